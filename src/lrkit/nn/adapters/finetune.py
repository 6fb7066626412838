"""A plain fine-tuning loop for adapted (or any) models: AdamW, linear warm-up and decay,
gradient clipping, a progress bar, and a record of what happened.

>>> history = lnn.finetune(tuned, batches, loss_fn, epochs=3, lr=1e-3)   # doctest: +SKIP
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass, field

import torch

from lrkit._validation import check_int, check_real


@dataclass
class FinetuneHistory:
    """What :func:`finetune` did.

    Attributes
    ----------
    losses : list of float
        Training loss of every step.
    epoch_seconds : list of float
        Wall time of every epoch.
    steps : int
    """

    losses: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    steps: int = 0

    @property
    def seconds_per_step(self):
        return sum(self.epoch_seconds) / max(self.steps, 1)

    def final_loss(self, window=20):
        """Mean loss of the last ``window`` steps."""
        tail = self.losses[-window:]
        return sum(tail) / max(len(tail), 1)


def finetune(model, batches, loss_fn, epochs=3, *, lr=1e-3, weight_decay=0.0, warmup=0.06,
             max_grad_norm=1.0, seed=None, shuffle=True, progress=True, callback=None):
    """Train the trainable parameters of ``model`` on ``batches``.

    Parameters
    ----------
    model : torch.nn.Module
    batches : sequence
        Re-iterable (a list): one item per step, passed to ``loss_fn``.
    loss_fn : callable(model, batch) -> scalar tensor
    epochs : int
    lr : float
        Peak learning rate of AdamW; it rises linearly over the first ``warmup`` fraction of
        steps, then falls linearly to zero.
    weight_decay, max_grad_norm : float
        AdamW's decoupled weight decay; gradient-norm clipping (``None`` to switch off).
    seed : int, optional
        Seeds the batch order and PyTorch's generator (dropout, CE-SSL deactivation).
    progress : bool or callable(step, total, loss)
        ``True``: a progress bar on a terminal (nothing otherwise).
    callback : callable(step, loss), optional
        Called after every step; return ``False`` to stop early.

    Returns
    -------
    FinetuneHistory
    """
    check_int("epochs", epochs, 1)
    check_real("lr", lr, 0.0, low_open=True)
    check_real("warmup", warmup, 0.0, 1.0)
    if not hasattr(batches, "__len__") or len(batches) == 0:
        raise ValueError("batches must be a non-empty sequence (a list), re-read every epoch")
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("model has no trainable parameters (adapt it, or unfreeze some)")
    if seed is not None:
        torch.manual_seed(check_int("seed", seed, 0))
    order_rng = random.Random(seed)
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    total = epochs * len(batches)
    ramp = max(1, math.ceil(warmup * total))

    def factor(step):  # linear warm-up over `ramp` steps, then linear decay to zero
        return min((step + 1) / ramp, max(0.0, (total - step) / max(total - ramp, 1)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    history = FinetuneHistory()
    report, close = _progress(progress, total)
    was_training = model.training
    model.train()
    try:
        for _ in range(epochs):
            order = list(range(len(batches)))
            if shuffle:
                order_rng.shuffle(order)
            start = time.perf_counter()
            for index in order:
                loss = loss_fn(model, batches[index])
                if not torch.isfinite(loss):
                    raise ValueError(f"the loss became {loss.item()} at step {history.steps}; "
                                     "lower lr")
                optimizer.zero_grad(set_to_none=True)
                if loss.requires_grad:  # not when deactivation switched every adapter off
                    loss.backward()
                    if max_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
                    optimizer.step()
                schedule.step()
                history.steps += 1
                history.losses.append(loss.item())
                report(history.steps, total, history.losses[-1])
                if callback is not None and callback(history.steps, history.losses[-1]) is False:
                    history.epoch_seconds.append(time.perf_counter() - start)
                    return history
            history.epoch_seconds.append(time.perf_counter() - start)
    finally:
        close()
        model.train(was_training)
    return history


def _progress(progress, total):
    """``(report(step, total, loss), close())`` for the progress option."""
    if callable(progress):
        return progress, lambda: None
    if not progress or not sys.stderr.isatty():
        return (lambda *_: None), lambda: None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("fine-tuning"), BarColumn(), TextColumn("{task.completed}/"
                   "{task.total}"), TextColumn("loss {task.fields[loss]:.4f}"),
                   TimeRemainingColumn(), transient=True)
    task = bar.add_task("fine-tuning", total=total, loss=float("nan"))
    bar.start()
    return (lambda step, _, loss: bar.update(task, completed=step, loss=loss)), bar.stop
