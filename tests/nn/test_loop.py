"""The one training loop (lrkit.nn.loop) and the workloads that share it."""

import pytest

torch = pytest.importorskip("torch")

from lrkit.nn.loop import TrainingHistory, per_epoch_report, train_steps, warmup_decay  # noqa: E402
from lrkit.result import PROTOCOL, Status  # noqa: E402


def _regression(seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    model = torch.nn.Linear(4, 1)
    return model, lambda _: ((model(x) - y) ** 2).mean()


def test_a_falling_loss_converges_and_carries_the_protocol():
    model, loss = _regression()
    history = train_steps(model, loss, 200, optimizer=torch.optim.SGD(model.parameters(), 0.05),
                          progress=False)
    assert all(hasattr(history, name) for name in PROTOCOL)
    assert history.converged and history.n_iter == 200 and history.time > 0
    # plain gradient descent on a least-squares problem reaches its (zero) minimum
    assert history.losses[-1] < 1e-6 * history.losses[0]
    assert len(history.history["seconds"]) == 200


def test_a_loss_that_does_not_fall_is_stalled_not_converged():
    model, loss = _regression()
    history = train_steps(model, loss, 20, optimizer=torch.optim.SGD(model.parameters(), 0.0),
                          progress=False)
    assert history.status is Status.STALLED and not history.converged
    assert "did not fall" in history.message


def test_a_step_without_a_graph_leaves_the_parameters_alone():
    model, _ = _regression()
    before = [p.detach().clone() for p in model.parameters()]
    history = train_steps(model, lambda _: torch.tensor(2.0), 3,
                          optimizer=torch.optim.AdamW(model.parameters(), 0.1), progress=False)
    assert history.losses == [2.0, 2.0, 2.0]
    for old, new in zip(before, model.parameters(), strict=True):
        assert torch.equal(old, new)


def test_gradients_set_by_the_caller_are_stepped():
    parameter = torch.nn.Parameter(torch.ones(3))
    model = torch.nn.Module()
    model.weight = parameter

    def compute(_):
        parameter.grad = torch.full((3,), 2.0)
        return torch.tensor(1.0)

    train_steps(model, compute, 1, optimizer=torch.optim.SGD([parameter], lr=0.25),
                progress=False)
    torch.testing.assert_close(parameter.detach(), torch.full((3,), 0.5))


def test_a_non_finite_loss_stops_with_the_fix():
    model, _ = _regression()
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train_steps(model, lambda _: model.weight.sum() * float("nan"), 5,
                    optimizer=torch.optim.SGD(model.parameters(), 0.1), progress=False)


def test_the_callback_stops_and_the_seed_leaves_the_global_generator_alone():
    model, loss = _regression()
    state = torch.random.get_rng_state()
    history = train_steps(model, loss, 50, optimizer=torch.optim.SGD(model.parameters(), 0.05),
                          seed=3, callback=lambda step, _: step < 7, progress=False)
    assert history.status is Status.CALLBACK and history.n_iter == 7
    assert torch.equal(state, torch.random.get_rng_state())


def test_seeded_runs_with_dropout_repeat():
    def run():
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(16, 8, generator=generator)
        model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.5))
        torch.nn.init.eye_(model[0].weight)
        torch.nn.init.zeros_(model[0].bias)
        return train_steps(model, lambda _: model(x).square().mean(), 5,
                           optimizer=torch.optim.SGD(model.parameters(), 0.01), seed=11,
                           progress=False).losses

    assert run() == run()


def test_named_parts_schedule_and_epoch_views():
    model, loss = _regression()
    optimizer = torch.optim.SGD(model.parameters(), 0.05)
    seen = []
    history = train_steps(model, lambda s: (loss(s), {"half": loss(s) / 2}), 12,
                          optimizer=optimizer, schedule=warmup_decay(12, 0.25),
                          steps_per_epoch=5, callback=per_epoch_report(
                              lambda epoch, mean: seen.append((epoch, mean)), 5),
                          progress=False)
    assert history.history["half"] == pytest.approx([v / 2 for v in history.losses])
    assert len(history.epoch_losses) == len(history.epoch_seconds) == 3  # 5 + 5 + 2 steps
    assert history.epoch_losses[0] == pytest.approx(sum(history.losses[:5]) / 5)
    assert [epoch for epoch, _ in seen] == [0, 1]
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0)  # decayed to zero
    factor = warmup_decay(12, 0.25)
    assert [factor(s) for s in (0, 2, 3, 11)] == pytest.approx([1 / 3, 1.0, 1.0, 1 / 9])


def test_the_mode_is_restored():
    model, loss = _regression()
    model.eval()
    train_steps(model, loss, 2, optimizer=torch.optim.SGD(model.parameters(), 0.01),
                progress=False, mode="train")
    assert not model.training


def test_workload_histories_are_training_histories():
    from lrkit.nn import DistillHistory, FinetuneHistory, PretrainHistory
    from lrkit.nn.adapters.federated import FederatedResult
    from lrkit.result import Outcome

    assert FinetuneHistory is TrainingHistory
    assert issubclass(PretrainHistory, TrainingHistory)
    assert issubclass(DistillHistory, TrainingHistory)
    assert issubclass(FederatedResult, Outcome)


def test_epoch_order_draws_once_per_epoch():
    from lrkit.nn.loop import epoch_order

    draws = iter([[2, 0, 1], [1, 2, 0]])
    position = epoch_order(3, lambda: next(draws))
    assert [position(step) for step in range(6)] == [
        (0, 0, [2, 0, 1]), (0, 1, [2, 0, 1]), (0, 2, [2, 0, 1]),
        (1, 0, [1, 2, 0]), (1, 1, [1, 2, 0]), (1, 2, [1, 2, 0])]


def test_parameters_the_output_never_uses_are_named_once():
    """Issue 42: an adapter on a layer the forward pass never uses (BERT's pooler under mean
    pooling) trained nothing, silently; the run names such parameters and warns once."""
    model, loss = _regression()
    model.unused = torch.nn.Linear(4, 2)  # never called by the loss
    with pytest.warns(UserWarning, match=r"2 trainable parameters got no gradient in any of "
                                         r"the 5 steps \(unused.weight, unused.bias\)"):
        history = train_steps(model, loss, 5, optimizer=torch.optim.SGD(model.parameters(), 0.05),
                              progress=False)
    assert history.untrained == ["unused.weight", "unused.bias"]
    used, used_loss = _regression()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean = train_steps(used, used_loss, 3,
                            optimizer=torch.optim.SGD(used.parameters(), 0.05), progress=False)
    assert clean.untrained == []
