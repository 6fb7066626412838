"""ProjectedAdamW (GaLore, SVD-free DCT, random) and optimizer_state_bytes."""

import pytest

torch = pytest.importorskip("torch")

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn.training.gradient_projection import dct_matrix  # noqa: E402

N = 128


def _planted(seed=0):
    generator = torch.Generator().manual_seed(seed)
    target = torch.randn(N, 4, generator=generator) @ torch.randn(4, N, generator=generator)
    X = torch.randn(2048, N, generator=generator)
    Y = X @ (target / N**0.5).T + 0.1 * torch.randn(2048, N, generator=generator)
    return X, Y


def _train(make_optimizer, steps=400):
    X, Y = _planted()
    torch.manual_seed(1)
    model = torch.nn.Linear(N, N, bias=False)
    torch.nn.init.zeros_(model.weight)
    optimizer = make_optimizer(model)
    for _ in range(steps):
        index = torch.randint(0, X.shape[0], (128,))
        loss = (model(X[index]) - Y[index]).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float((model(X) - Y).square().mean())


def test_svd_projection_comes_within_twice_adamw_on_a_planted_low_rank_regression():
    adamw = _train(lambda m: torch.optim.AdamW(m.parameters(), lr=1e-2))
    galore = _train(lambda m: lnn.ProjectedAdamW(m, rank=8, basis="svd", update_every=50,
                                                 lr=0.1))
    assert galore <= 2 * adamw


def test_the_dct_basis_beats_a_random_basis_of_the_same_rank():
    """The SVD-free claim: choosing the DCT columns most aligned with the gradient keeps more
    of it than a random subspace, so at equal rank and refresh it descends further."""
    start = float(_planted()[1].square().mean())
    final = {basis: _train(lambda m, b=basis: lnn.ProjectedAdamW(m, rank=8, basis=b,
                                                                 update_every=10, lr=0.1))
             for basis in ("dct", "random")}
    assert final["dct"] < 0.8 * final["random"] < 0.3 * start


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.GELU(),
                               torch.nn.Linear(512, 512), torch.nn.GELU(),
                               torch.nn.Linear(512, 256))


def _one_step(model, optimizer):
    model(torch.randn(32, 256)).square().mean().backward()
    optimizer.step()


@pytest.mark.parametrize("basis", ["svd", "dct", "random"])
def test_optimizer_state_is_at_most_half_of_adamw(basis):
    model = _mlp()
    adamw = torch.optim.AdamW(model.parameters())
    projected = lnn.ProjectedAdamW(model, rank=32, basis=basis)
    _one_step(model, adamw)
    _one_step(model, projected)
    assert lnn.optimizer_state_bytes(projected) <= 0.5 * lnn.optimizer_state_bytes(adamw)


def test_dct_stores_only_indices_and_finds_an_aligned_gradient():
    D = dct_matrix(64)
    torch.testing.assert_close(D.T @ D, torch.eye(64), atol=1e-5, rtol=0)
    columns = torch.tensor([3, 17, 40, 41])
    weight = torch.nn.Parameter(torch.zeros(64, 96))
    weight.grad = D[:, columns] @ torch.randn(4, 96)  # lies in 4 DCT directions
    optimizer = lnn.ProjectedAdamW([weight], rank=4, basis="dct", lr=0.1)
    optimizer.step()
    state = optimizer.state[weight]
    assert "basis" not in state and state["indices"].tolist() == columns.tolist()
    # the projection loses nothing: the first step is exactly GaLore's
    # ΔW = −lr · scale · P (R / (|R| + ε)) with R = Pᵀ G (Adam's bias-corrected first step)
    P = D[:, columns]
    R = P.T @ weight.grad
    expected = -0.1 * 0.25 * P @ (R / (R.abs() + 1e-8))
    torch.testing.assert_close(weight.detach(), expected, rtol=1e-5, atol=1e-7)


def test_small_and_vector_parameters_get_plain_adamw():
    model = torch.nn.Linear(4, 3)  # min dimension 3 <= rank
    optimizer = lnn.ProjectedAdamW(model, rank=8)
    reference = torch.nn.Linear(4, 3)
    reference.load_state_dict(model.state_dict())
    adamw = torch.optim.AdamW(reference.parameters(), lr=1e-3, weight_decay=0.0)
    x = torch.randn(5, 4)
    for net, opt in ((model, optimizer), (reference, adamw)):
        net(x).sum().backward()
        opt.step()
    torch.testing.assert_close(model.weight, reference.weight)
    torch.testing.assert_close(model.bias, reference.bias)


def test_basis_refresh_follows_update_every():
    weight = torch.nn.Parameter(torch.zeros(16, 32))
    optimizer = lnn.ProjectedAdamW([weight], rank=2, basis="random", update_every=3, seed=0)
    bases = []
    for _ in range(6):
        weight.grad = torch.randn(16, 32)
        optimizer.step()
        bases.append(optimizer.state[weight]["basis"].clone())
    assert torch.equal(bases[0], bases[2]) and not torch.equal(bases[2], bases[3])


def _dct_refresh(moments, tall=False):
    """Two steps in DCT columns {0, 1, 2, 3}, then a refresh onto {2, 3, 4, 5}; the state, the
    last step and gradient in DCT coordinates, and the first moment before the refresh (all
    as ``columns × 32``, also for a ``tall`` weight whose projection acts from the right)."""
    D = dct_matrix(16)
    orient = (lambda x: x.T) if tall else (lambda x: x)
    weight = torch.nn.Parameter(orient(torch.zeros(16, 32)))
    optimizer = lnn.ProjectedAdamW([weight], rank=4, basis="dct", update_every=2, lr=0.1,
                                   moments=moments)
    generator = torch.Generator().manual_seed(0)
    for columns in ([0, 1, 2, 3], [0, 1, 2, 3], [2, 3, 4, 5]):
        weight.grad = orient(D[:, columns] @ torch.randn(4, 32, generator=generator))
        before = weight.detach().clone()
        if optimizer.state:
            first_moment = orient(optimizer.state[weight]["exp_avg"]).clone()
        optimizer.step()
    state = {key: orient(value) if key.startswith("exp_avg") else value
             for key, value in optimizer.state[weight].items()}
    return (state, D.T @ orient(weight.detach() - before), D.T @ orient(weight.grad),
            first_moment)


@pytest.mark.parametrize("tall", [False, True])
def test_rotated_moments_follow_the_dct_columns_a_refresh_keeps(tall):
    state, step, grad, first_moment = _dct_refresh("rotate", tall)
    assert state["indices"].tolist() == [2, 3, 4, 5]
    beta1, beta2 = 0.9, 0.999
    # kept columns 2, 3 have three steps of weight; new columns 4, 5 one, as in a fresh Adam
    torch.testing.assert_close(state["weight"][0], torch.tensor(
        [1 - beta1**3, 1 - beta1**3, 1 - beta1, 1 - beta1]))
    torch.testing.assert_close(state["weight"][1], torch.tensor(
        [1 - beta2**3, 1 - beta2**3, 1 - beta2, 1 - beta2]))
    # so a new column's first step is α·lr·sign(g) per entry, like Adam's first step
    torch.testing.assert_close(step[4:6], -0.25 * 0.1 * grad[4:6].sign(), atol=1e-5, rtol=0)
    # a kept column's first moment moves along with it; dropped columns move no more
    torch.testing.assert_close(state["exp_avg"][:2],
                               beta1 * first_moment[2:] + (1 - beta1) * grad[2:4])
    torch.testing.assert_close(step[:2], torch.zeros(2, 32), atol=1e-6, rtol=0)


def test_kept_moments_stay_in_their_rows():
    state, _, grad, first_moment = _dct_refresh("keep")
    assert "weight" not in state
    # GaLore's way: row i of the moments now refers to the new i-th column
    torch.testing.assert_close(state["exp_avg"],
                               0.9 * first_moment + 0.1 * grad[[2, 3, 4, 5]])


@pytest.mark.parametrize("kwargs, match", [
    ({"rank": 0}, "rank must be an int in"),
    ({"basis": "qr"}, "basis must be one of"),
    ({"update_every": 0}, "update_every must be an int in"),
    ({"moments": "reset"}, "moments must be one of"),
    ({"lr": -1.0}, "lr must be in"),
    ({"betas": (0.9, 1.0)}, r"betas\[1\] must be in"),
    ({"scale": 0.0}, "scale must be in"),
])
def test_bad_options_are_one_line_errors(kwargs, match):
    with pytest.raises(ValueError, match=match) as error:
        lnn.ProjectedAdamW(torch.nn.Linear(8, 8), **kwargs)
    assert "\n" not in str(error.value)
