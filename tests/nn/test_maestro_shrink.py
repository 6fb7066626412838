"""Maestro's rank discovery (paper 26): the hierarchical group lasso and progressive
shrinking of trailing components during training."""

import pytest

torch = pytest.importorskip("torch")

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn.loop import train_steps  # noqa: E402
from lrkit.nn.training import group_lasso, shrink  # noqa: E402


def _model(rank=16, width=32, seed=0):
    torch.manual_seed(seed)
    return lnn.lowrank_model(torch.nn.Sequential(torch.nn.Linear(width, width)), "maestro",
                             rank=rank)


def test_shrink_cuts_only_negligible_trailing_components_and_keeps_the_function():
    model = _model()
    layer = model[0]
    with torch.no_grad():
        layer.B[:, 11:] = 0.0  # the last five components are zero
        layer.B[:, 4] *= 1e-4  # a small one in the middle stays: the order is what counts
    x = torch.randn(8, 32)
    before = model.eval()(x)
    assert shrink(model, 1e-3) == {"0": 11}
    assert layer.B.shape == (32, 11) and layer.A.shape == (11, 32) and layer.eval_rank == 11
    torch.testing.assert_close(model(x), before)
    assert shrink(model, 0.0) == {"0": 11}  # tolerance 0 cuts nothing more
    with pytest.raises(ValueError, match="tolerance must be"):
        shrink(model, 1.5)
    with pytest.raises(ValueError, match="no Maestro layers"):
        shrink(torch.nn.Linear(3, 3), 0.1)
    with pytest.raises(ValueError, match="no Maestro layers"):
        group_lasso(torch.nn.Linear(3, 3), 0.1)


def test_group_lasso_weighs_each_tail_of_components():
    layer = _model(rank=3)[0]
    energy = layer.B.detach().pow(2).sum(0) + layer.A.detach().pow(2).sum(1)
    expected = sum(float(energy[i:].sum().sqrt()) for i in range(3))
    value = float(group_lasso(torch.nn.Sequential(layer), 2.0).detach())
    assert value == pytest.approx(2 * expected, rel=1e-5)


def test_training_goes_on_after_shrinking_with_the_optimizer_state_cut_alike(tmp_path):
    """Group lasso plus shrinking inside the one training loop: the rank falls to what a
    rank-3 target needs, AdamW's moments follow the cut, and the model still saves."""
    model = _model()
    g = torch.Generator().manual_seed(1)
    target = torch.randn(32, 3, generator=g) @ torch.randn(3, 32, generator=g) / 32 ** 0.5
    x = torch.randn(512, 32, generator=g)
    y = x @ target.T
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    ranks = []

    def compute(step):
        loss = torch.mean((model(x) - y) ** 2)
        return loss + group_lasso(model, 1e-3) if step < 450 else loss

    def after(step):
        if step % 100 == 0 and step <= 400:
            ranks.append(shrink(model, 0.05, optimizer)["0"])
            for parameter in model[0].parameters():
                for value in optimizer.state[parameter].values():
                    if value.dim():
                        assert value.shape == parameter.shape

    history = train_steps(model, compute, 600, optimizer=optimizer, after_step=after,
                          progress=False)
    assert ranks[-1] == 3 and ranks == sorted(ranks, reverse=True)  # [11, 5, 4, 3]
    assert history.converged
    model.eval()
    with torch.no_grad():
        assert float(torch.mean((model(x) - y) ** 2) / torch.mean(y ** 2)) < 1e-2
    path = tmp_path / "shrunk.safetensors"
    lnn.save(model, path)
    fresh = lnn.load(_model(), path)
    torch.testing.assert_close(fresh.eval()(x), model(x))
