"""Low-rank training layers (SLTrain, LOST, SST, Maestro, ReLoRA*) and Trained Rank Pruning."""

import pytest

torch = pytest.importorskip("torch")

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn.training import trainable_count  # noqa: E402


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 32))


SHAPES = [(64, 128), (128, 32)]  # (in, out) of the two layers
BIASES = 128 + 32


@pytest.mark.parametrize("method, options, per_layer", [
    ("sltrain", {"sparsity": 0.03}, lambda i, o, r: r * (i + o) + round(0.03 * i * o)),
    ("lost", {"sparsity": 0.1}, lambda i, o, r: r * (i + o) + o * round(0.1 * i)),
    ("sst", {}, lambda i, o, r: r * (i + o) + min(i, o)),
    ("maestro", {}, lambda i, o, r: r * (i + o)),
    ("lowrank", {}, lambda i, o, r: r * (i + o)),
    ("relora", {}, lambda i, o, r: r * (i + o)),
])
def test_parameter_counts_follow_the_formulas(method, options, per_layer):
    model = lnn.lowrank_model(_mlp(), method, rank=8, seed=0, **options)
    expected = sum(per_layer(i, o, 8) for i, o in SHAPES) + BIASES
    assert trainable_count(model) == expected


@pytest.mark.parametrize("method", ["lowrank", "sltrain", "lost", "sst", "maestro", "relora"])
def test_layers_save_load_and_train(method, tmp_path):
    model = lnn.lowrank_model(_mlp(), method, rank=8, seed=0)
    x = torch.randn(16, 64)
    model(x).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    path = tmp_path / "model.safetensors"
    lnn.save(model, path)
    again = lnn.load(_mlp(1), path)
    again.eval()
    torch.testing.assert_close(again(x), model(x))


def test_lost_and_maestro_start_from_the_top_singular_part():
    base = _mlp()
    weight = base[0].weight.detach()
    U, s, Vh = torch.linalg.svd(weight, full_matrices=False)
    top = (U[:, :8] * s[:8]) @ Vh[:8]
    maestro = lnn.lowrank_model(base, "maestro", rank=8)
    torch.testing.assert_close(maestro[0].weight, top, atol=1e-5, rtol=1e-4)
    lost = lnn.lowrank_model(base, "lost", rank=8, sparsity=0.25)
    residual = (weight - top).norm()
    assert (weight - lost[0].weight).norm() < residual  # the kept channels help


def test_sst_is_full_rank_and_trains_every_value_and_the_sampled_pairs():
    base = _mlp()
    model = lnn.lowrank_model(base, "sst", rank=8, seed=0)
    layer = model[0]
    # The whole SVD: the layer starts at the dense weight (zero distortion), not its top 8.
    torch.testing.assert_close(layer.weight, base[0].weight, atol=1e-5, rtol=1e-4)
    model(torch.randn(16, 64)).square().mean().backward()
    assert layer.U.shape == (128, 8) and (layer.s.grad != 0).all() and layer.s.numel() == 64
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    optimizer.step()
    before = layer.weight.detach().clone()
    assert lnn.resample(model, optimizer, seed=0) == 2
    torch.testing.assert_close(layer.weight, before)  # a draw changes what trains, not W
    assert not optimizer.state[layer.U]["exp_avg"].any()  # restarted (memory kept)
    assert optimizer.state[layer.U]["step"] == 0 and optimizer.state[layer.s]["step"] == 1
    torch.testing.assert_close(layer.U, layer.U_all[:, layer.active])


def test_sst_draws_pairs_by_singular_value_mixed_with_uniform():
    layer = lnn.SSTLinear(16, 16, rank=2)
    with torch.no_grad():
        layer.initialize(torch.diag(torch.tensor([8.0] + [0.5] * 15)), None)
    generator = torch.Generator().manual_seed(0)
    drawn = torch.zeros(16)
    for _ in range(200):
        layer.resample(generator)
        drawn[layer.active] += 1
    # p(i) = (1/16 + s_i / 15.5) / 2: index 0 is in about half the draws, each other in 1/10
    assert drawn[0] > 75 and drawn[1:].max() < 45
    assert (drawn > 0).all()  # the uniform half explores every pair


def test_sst_vectors_get_the_enhanced_gradient_and_go_back_as_unit_vectors():
    layer = lnn.SSTLinear(12, 10, rank=3)
    with torch.no_grad():
        layer.initialize(torch.randn(10, 12, generator=torch.Generator().manual_seed(0)), None)
    x = torch.randn(5, 12)
    weight = layer.weight
    weight.retain_grad()
    torch.nn.functional.linear(x, weight, layer.bias).square().sum().backward()
    # dL/dU_i = (dL/dW) V_i, without the factor s_i (paper 30's enhanced gradient), and
    # tangent to the unit sphere (U_i enters W normalised)
    def tangent(vectors, gradient):
        return gradient - vectors * (vectors * gradient).sum(dim=0)

    torch.testing.assert_close(layer.U.grad, tangent(layer.U, weight.grad @ layer.V))
    torch.testing.assert_close(layer.V.grad, tangent(layer.V, weight.grad.T @ layer.U))
    before = layer.weight.detach().clone()
    with torch.no_grad():
        layer.U.mul_(3.0)  # a trained vector's norm does not reach W ...
    torch.testing.assert_close(layer.weight, before)
    layer.resample(torch.Generator().manual_seed(1))
    torch.testing.assert_close(layer.weight, before)  # ... nor does a draw change W
    torch.testing.assert_close(layer.U_all.norm(dim=0), torch.ones(10))


def test_sst_reorthogonalize_keeps_the_weight():
    model = lnn.lowrank_model(_mlp(), "sst", rank=8, seed=0)
    layer = model[0]
    with torch.no_grad():
        layer.U.add_(0.1 * torch.randn_like(layer.U))
    before = layer.weight.detach().clone()
    assert lnn.reorthogonalize(model, seed=0) == 2
    torch.testing.assert_close(layer.weight, before, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(layer.U_all.T @ layer.U_all, torch.eye(64), atol=1e-5, rtol=0)
    assert (layer.s[:-1] >= layer.s[1:]).all()
    # the round's first draw follows (not the top pairs): the seed decides which are active
    active = layer.active.clone()
    lnn.reorthogonalize(model, seed=1)
    assert not torch.equal(layer.active, active) and layer.active.unique().numel() == 8
    torch.testing.assert_close(layer.U, layer.U_all[:, layer.active])
    torch.testing.assert_close(layer.weight, before, atol=1e-5, rtol=1e-4)


def _fit_full_rank_target(method, restart=None, every=10):
    """Loss of a rank-4 ``method`` layer trained on a full-rank 16 × 16 linear map, with
    ``restart(model, optimizer, seed=...)`` every ``every`` steps."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(512, 16, generator=generator)
    Y = X @ torch.randn(16, 16, generator=generator).T
    torch.manual_seed(0)
    model = lnn.lowrank_model(torch.nn.Sequential(torch.nn.Linear(16, 16)), method, rank=4,
                              seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    for step in range(1, 601):
        loss = (model(X) - Y).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if restart is not None and step % every == 0:
            restart(model, optimizer, seed=step)
    return _loss(model, X, Y), float(Y.square().mean())


def test_sst_fits_a_full_rank_target_that_plain_low_rank_cannot():
    (low, start), (sst, _) = _fit_full_rank_target("lowrank"), _fit_full_rank_target(
        "sst", lnn.resample)
    assert low > 0.3 * start  # rank 4 of 16 leaves most of the target
    assert sst < 0.1 * low


def test_relora_merges_keep_the_weight_and_accumulate_rank():
    base = _mlp()
    model = lnn.lowrank_model(base, "relora", rank=8, seed=0)
    layer = model[0]
    torch.testing.assert_close(layer.weight, base[0].weight)  # B = 0: the start, exactly
    with torch.no_grad():
        layer.B.normal_()
    before = layer.weight.detach().clone()
    A = layer.A.detach().clone()
    assert lnn.merge_and_restart(model, seed=1) == 2
    torch.testing.assert_close(layer.weight, before)
    assert not layer.B.any() and not torch.equal(layer.A, A)
    # LoRA from scratch learns a rank-4 change of the frozen start; ReLoRA*'s merges add up
    (lora, start), (relora, _) = _fit_full_rank_target("relora"), _fit_full_rank_target(
        "relora", lnn.merge_and_restart, every=50)
    assert lora > 0.3 * start and relora < 0.1 * lora


def _regression(seed=0, n=48, noise=0.0):
    generator = torch.Generator().manual_seed(seed)
    target = torch.randn(n, 3, generator=generator) @ torch.randn(3, n, generator=generator)
    X = torch.randn(256, n, generator=generator)
    Y = X @ target.T / n**0.5
    return X, Y + noise * torch.randn(Y.shape, generator=generator)


def _fit(model, X, Y, steps=300, regularizer=None, truncate_every=None):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(steps):
        loss = (model(X) - Y).square().mean()
        if regularizer is not None:
            loss = loss + regularizer()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if truncate_every and (step + 1) % truncate_every == 0:
            lnn.truncate(model, energy=0.99)
    return model


def _loss(model, X, Y):
    with torch.no_grad():
        return float((model(X) - Y).square().mean())


def test_trp_weights_truncate_with_less_loss_increase():
    X, Y = _regression(noise=0.5)  # the unregularised fit spends rank on the noise
    torch.manual_seed(0)
    plain = _fit(torch.nn.Linear(48, 48), X, Y)
    torch.manual_seed(0)
    model = torch.nn.Linear(48, 48)
    trp = _fit(model, X, Y, regularizer=lnn.NuclearRegularizer(model, weight=3e-3),
               truncate_every=20)
    increases = []
    for net in (plain, trp):
        before = _loss(net, X, Y)
        lnn.truncate(net, rank=3)
        increases.append(_loss(net, X, Y) - before)
    assert increases[1] < 0.5 * increases[0]


def test_maestro_degrades_gracefully_with_rank():
    X, Y = _regression(1)
    model = lnn.lowrank_model(torch.nn.Sequential(torch.nn.Linear(48, 48)), "maestro", rank=12)
    _fit(model, X, Y, steps=400)
    model.eval()
    losses = []
    for k in range(1, 13):
        lnn.truncate(model, rank=k)
        losses.append(_loss(model, X, Y))
    assert all(a >= b - 1e-3 * losses[0] for a, b in zip(losses, losses[1:], strict=False))
    assert losses[2] < 0.05 * losses[0]  # the planted rank 3 is reached by 3 components


def test_truncate_by_energy():
    layer = torch.nn.Linear(10, 10, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.diag(torch.tensor([3.0, 2.0, 1.0] + [0.0] * 7)))
    assert lnn.truncate(layer, energy=0.9) == {"": 2}  # 9 + 4 of 14 is 93 %
    assert torch.linalg.matrix_rank(layer.weight) == 2


@pytest.mark.parametrize("call, match", [
    (lambda m: lnn.lowrank_model(m, "foo"), "method must be one of"),
    (lambda m: lnn.lowrank_model(m, "sst", rank=0), "rank must be an int in"),
    (lambda m: lnn.lowrank_model(m, "sltrain", sparsity=1.5), "sparsity must be in"),
    (lambda m: lnn.lowrank_model(m, "sst", sparsity=0.1), "takes no option sparsity"),
    (lambda m: lnn.truncate(m), "exactly one of"),
    (lambda m: lnn.truncate(m, energy=0.0), "energy must be in"),
    (lambda m: lnn.NuclearRegularizer(m, weight=-1.0), "weight must be in"),
])
def test_bad_input_is_one_line_error(call, match):
    with pytest.raises(ValueError, match=match) as error:
        call(_mlp())
    assert "\n" not in str(error.value)


def test_welore_ranks_find_the_low_rank_layer():
    model = _mlp()
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(128, 2) @ torch.randn(2, 64)
                              + 1e-3 * torch.randn(128, 64))
    ranks = lnn.welore_ranks(model)
    assert ranks["0"][0] <= 3 and ranks["0"][1] == 64
    assert ranks["2"][0] > 10


def test_truncate_by_energy_shortens_a_maestro_layer():
    """Issue 39.9: truncate(energy=…) kept a Maestro layer's full rank, silently."""
    from lrkit.nn.training import MaestroLinear

    torch.manual_seed(0)
    layer = MaestroLinear(16, 12, 6)
    with torch.no_grad():
        layer.A.copy_(torch.linalg.qr(torch.randn(16, 6))[0].T)
        layer.B.copy_(torch.linalg.qr(torch.randn(12, 6))[0]
                      * torch.tensor([10.0, 5.0, 1.0, 0.1, 0.1, 0.1]))
    model = torch.nn.Sequential(layer)
    # energies 100, 25, 1, 0.01 ×3 of 126.03: 99.5 % needs the first three components
    assert lnn.truncate(model, energy=0.995) == {"0": 3} and layer.eval_rank == 3
    assert lnn.truncate(model, energy=0.99) == {"0": 2}
    assert lnn.truncate(model, energy=0.5) == {"0": 1}
    assert lnn.truncate(model, rank=5) == {"0": 5}
