"""CE-SSL's random deactivation (paper 7) in a user's own training loop (issue 39)."""

import pytest

torch = pytest.importorskip("torch")

import lrkit.nn as lnn  # noqa: E402


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 8),
                               torch.nn.Linear(8, 4))


def _draws(seed):
    tuned = lnn.adapt(_model(), "lora", rank=2, deactivation=0.5, seed=seed)
    layers = list(lnn.adapter_layers(tuned).values())
    return [[float(torch.rand((), generator=layer.coin)) for _ in range(5)] for layer in layers]


def test_every_adapter_off_is_a_step_that_changes_nothing():
    tuned = lnn.adapt(_model(), "lora", rank=2, deactivation=0.5, seed=0)
    optimizer = torch.optim.AdamW([p for p in tuned.parameters() if p.requires_grad], lr=0.1)
    x, y = torch.randn(16, 8), torch.randn(16, 4)
    all_off = 0
    for _ in range(100):  # 3 layers at p = 0.5: every adapter is off in ~1 step in 8
        before = [p.detach().clone() for p in tuned.parameters()]
        optimizer.zero_grad(set_to_none=True)
        ((tuned(x) - y) ** 2).mean().backward()  # raised when every adapter was off
        if all(p.grad is None for p in tuned.parameters() if p.requires_grad):
            all_off += 1
            optimizer.step()
            assert all(torch.equal(a, b) for a, b in zip(before, tuned.parameters(),
                                                         strict=True))
        else:
            optimizer.step()
    assert 3 <= all_off <= 30


def test_the_coins_follow_the_seed_not_the_global_generator():
    assert _draws(1) == _draws(1) != _draws(2)
    tuned = lnn.adapt(_model(), "lora", rank=2, deactivation=0.5, seed=0)
    assert tuned.training
    state = torch.random.get_rng_state()
    for _ in range(10):
        tuned(torch.zeros(4, 8))
    assert torch.equal(state, torch.random.get_rng_state())
