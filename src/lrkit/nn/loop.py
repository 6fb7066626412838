"""The one training loop: fine-tuning, pre-training, distillation, federated clients,
RPCANet and DPS all step through :func:`train_steps`, and all return a
:class:`TrainingHistory`.

Each step: clear the gradients, ``compute(step)`` (the caller's loss, optionally with named
parts), back-propagate when the loss has a graph, clip, and step the optimizer when any
parameter received a gradient (so a step in which every adapter was switched off, or in
which the caller set the gradients itself, is handled), then the schedule, the
``after_step`` hook, the record, the progress report and the callback (``False`` stops).
A non-finite loss stops with a ``FloatingPointError`` that names the fix. A seed seeds
PyTorch inside the loop only: the caller's global random state is restored afterwards.

>>> import torch
>>> model = torch.nn.Linear(3, 1)
>>> x, y = torch.randn(32, 3), torch.randn(32, 1)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
>>> history = train_steps(model, lambda step: ((model(x) - y) ** 2).mean(), 50,
...                       optimizer=opt, progress=False)
>>> history.converged, history.n_iter, history.losses[-1] < history.losses[0]
(True, 50, True)
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import torch

from lrkit._progress import step_bar
from lrkit._validation import check_int
from lrkit.result import Outcome, Status


@dataclass(kw_only=True)
class TrainingHistory(Outcome):
    """What a training run did: the result protocol plus the per-step record.

    ``history["loss"]`` is the loss of every step, ``history["seconds"]`` its wall time, and
    ``history[name]`` every named part of the loss the step reported. ``status`` is
    ``CONVERGED`` when the loss fell (the mean of the last tenth of the steps below that of
    the first tenth), ``STALLED`` when it did not, ``CALLBACK`` when a callback stopped it.

    Attributes
    ----------
    steps_per_epoch : int
        Steps in one pass over the data (0: the run has no epochs).
    evaluations : list of (int, float)
        ``(step, value)`` of the held-out measure, where the run evaluated one.
    """

    steps_per_epoch: int = 0
    evaluations: list = field(default_factory=list)
    #: Names of the trainable parameters no step gave a gradient (the model's output does
    #: not depend on them: an adapter on a layer the forward pass never uses); each run
    #: with some warns once.
    untrained: list = field(default_factory=list)

    @property
    def losses(self):
        """Training loss of every step."""
        return self.history.setdefault("loss", [])

    @property
    def steps(self):
        return self.n_iter

    @property
    def seconds_per_step(self):
        seconds = self.history.get("seconds", [])
        return sum(seconds) / max(len(seconds), 1)

    @property
    def epoch_seconds(self):
        """Wall time of every (started) epoch."""
        return [sum(chunk) for chunk in self._epochs(self.history.get("seconds", []))]

    @property
    def epoch_losses(self):
        """Mean training loss of every (started) epoch."""
        return [sum(chunk) / len(chunk) for chunk in self._epochs(self.losses)]

    def final_loss(self, window=20):
        """Mean loss of the last ``window`` steps."""
        tail = self.losses[-window:]
        return sum(tail) / max(len(tail), 1)

    def _epochs(self, values):
        size = self.steps_per_epoch or max(len(values), 1)
        return [values[start:start + size] for start in range(0, len(values), size)]


def warmup_decay(total, warmup):
    """Step-size factor of step ``s``: a linear rise over the first ``warmup`` fraction of
    ``total`` steps, then a linear fall to zero (for ``LambdaLR``)."""
    ramp = max(1, math.ceil(warmup * total))
    return lambda step: min((step + 1) / ramp, max(0.0, (total - step) / max(total - ramp, 1)))


def train_steps(model, compute, steps, *, optimizer, schedule=None, max_grad_norm=None,
                seed=None, steps_per_epoch=0, after_step=None, callback=None, progress=True,
                label="training", mode="train", history=None):
    """Run ``steps`` optimizer steps of ``compute`` on ``model`` (see the module docstring).

    Parameters
    ----------
    model : torch.nn.Module
    compute : callable(step) -> loss or (loss, dict of named parts)
        The loss of step ``step`` (0-based), a scalar tensor. Parts are recorded, not used.
    steps : int
    optimizer : torch.optim.Optimizer
    schedule : torch.optim.lr_scheduler.LRScheduler or callable(step) -> float, optional
        Stepped after every optimizer step; a callable is a ``LambdaLR`` factor.
    max_grad_norm : float, optional
        Clip the gradient norm of the optimizer's parameters to this.
    seed : int, optional
        Seeds PyTorch's generator for the run (dropout, random deactivation).
    steps_per_epoch : int
        For the per-epoch views of the history.
    after_step : callable(steps_done), optional
        Runs after every optimizer step, inside its timing (re-orthogonalisation,
        truncation).
    callback : callable(steps_done, loss) -> bool, optional
        Runs after the step is recorded, outside its timing (evaluation); ``False`` stops
        the run.
    progress : bool or callable(step, total, loss)
        ``True``: a progress bar on a terminal (nothing otherwise).
    label : str
        The progress bar's title.
    mode : {"train", "eval"}
        The module mode during the run (``"eval"`` for deterministic targets); the
        model's own mode is restored afterwards.
    history : TrainingHistory, optional
        The record to fill (a subclass a workload extends); a new one by default.

    Returns
    -------
    TrainingHistory
    """
    check_int("steps", steps, 1)
    if schedule is not None and not hasattr(schedule, "step"):
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    history = TrainingHistory() if history is None else history
    history.n_iter, history.steps_per_epoch = 0, steps_per_epoch
    history.history = {"loss": [], "seconds": []}
    report, close = step_bar(progress, steps, label)
    was_training = model.training
    model.train(mode == "train")
    seeded = seed is not None
    start = time.perf_counter()
    try:
        with torch.random.fork_rng(enabled=seeded):
            if seeded:
                torch.manual_seed(check_int("seed", seed, 0))
            reached = [False] * len(parameters)
            stopped = _run(compute, steps, optimizer, schedule, parameters, max_grad_norm,
                           after_step, callback, report, history, reached)
    finally:
        close()
        model.train(was_training)
    history.time = time.perf_counter() - start
    _judge(history, stopped)
    _report_untrained(model, parameters, reached, history)
    return history


def _report_untrained(model, parameters, reached, history):
    """Name, and warn once about, the trainable parameters no step reached."""
    names = {id(p): name for name, p in model.named_parameters()}
    history.untrained = [names.get(id(p), "(not in the model)")
                         for p, seen in zip(parameters, reached, strict=True)
                         if not seen and p.requires_grad]
    if history.untrained and len(history.untrained) < len(parameters):
        named = ", ".join(history.untrained[:3]) + (", …" if len(history.untrained) > 3 else "")
        warnings.warn(f"{len(history.untrained)} trainable parameters got no gradient in any "
                      f"of the {history.n_iter} steps ({named}): "
                      "the model's output does not depend on them (an adapter on a layer the "
                      "forward pass never uses, such as a pooler under mean pooling); leave "
                      "them out with targets=", UserWarning, stacklevel=3)


def epoch_order(steps_per_epoch, draw):
    """``position(step) -> (epoch, step within the epoch, the epoch's order)``, where the
    order is ``draw()``, called at the first step of every epoch (a fresh shuffle each
    pass over the data)."""
    current = []

    def position(step):
        epoch, within = divmod(step, steps_per_epoch)
        if within == 0:
            current[:] = [draw()]
        return epoch, within, current[0]

    return position


def per_epoch_report(progress, steps_per_epoch):
    """A ``callback`` that calls ``progress(epoch, mean loss of the epoch)`` (0-based epoch)
    at the end of every epoch; ``None`` without ``progress``."""
    if progress is None:
        return None
    losses = []

    def callback(step, loss):
        losses.append(loss)
        if step % steps_per_epoch == 0:
            progress(step // steps_per_epoch - 1, sum(losses) / len(losses))
            losses.clear()

    return callback


def _run(compute, steps, optimizer, schedule, parameters, max_grad_norm, after_step, callback,
         report, history, reached):
    """The steps; True when the callback stopped them. ``reached[i]`` becomes True once a
    step gives ``parameters[i]`` a gradient. ``parameters`` is re-read from the optimizer
    every step: a hook may replace one by another of a new shape (Maestro's shrinking)."""
    for step in range(steps):
        began = time.perf_counter()
        parameters[:] = [p for group in optimizer.param_groups for p in group["params"]]
        optimizer.zero_grad(set_to_none=True)
        loss, parts = _split(compute(step))
        if not torch.isfinite(loss.detach()).all():
            raise FloatingPointError(f"the loss became {float(loss.detach())} at step {step}; "
                                     "lower the learning rate (lr)")
        if loss.requires_grad:
            loss.backward()
        has_grad = [p.grad is not None for p in parameters]
        reached[:] = [a or b for a, b in zip(reached, has_grad, strict=True)]
        if any(has_grad):
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
            optimizer.step()
        if schedule is not None:
            schedule.step()
        if after_step is not None:
            after_step(step + 1)
        history.n_iter += 1
        history.history["seconds"].append(time.perf_counter() - began)
        history.losses.append(float(loss.detach()))
        for name, value in parts.items():
            history.history.setdefault(name, []).append(float(value.detach()))
        report(history.n_iter, steps, history.losses[-1])
        if callback is not None and callback(history.n_iter, history.losses[-1]) is False:
            return True
    return False


def _split(output):
    if isinstance(output, tuple):
        return output
    return output, {}


def _judge(history, stopped):
    if stopped:
        history.status = Status.CALLBACK
        history.message = f"stopped by the callback after {history.n_iter} steps"
        return
    losses = history.losses
    window = max(1, len(losses) // 10)
    judge(history, sum(losses[:window]) / window, sum(losses[-window:]) / window,
          f"{len(losses)} steps")


def judge(outcome, first, last, span):
    """Set ``outcome``'s status: ``CONVERGED`` when the loss fell from ``first`` to
    ``last`` over ``span`` (words, e.g. ``"30 steps"``), ``STALLED`` otherwise."""
    if last < first:
        outcome.status = Status.CONVERGED
        outcome.message = f"the loss fell from {first:.4g} to {last:.4g} in {span}"
    else:
        outcome.status = Status.STALLED
        outcome.message = (f"the loss did not fall ({first:.4g} at the start, {last:.4g} "
                           f"after {span}): raise lr or train longer")
