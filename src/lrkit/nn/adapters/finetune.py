"""A plain fine-tuning loop for adapted (or any) models: AdamW, linear warm-up and decay,
gradient clipping, a progress bar, and a record of what happened.

>>> history = lnn.finetune(tuned, batches, loss_fn, epochs=3, lr=1e-3)   # doctest: +SKIP
"""

from __future__ import annotations

import random

import torch

from lrkit._validation import check_int, check_real
from lrkit.nn.loop import TrainingHistory, epoch_order, train_steps, warmup_decay

#: What :func:`finetune` returns (the one :class:`~lrkit.nn.loop.TrainingHistory`).
FinetuneHistory = TrainingHistory


def finetune(model, batches, loss_fn, epochs=3, *, lr=1e-3, weight_decay=0.0, warmup=0.06,
             max_grad_norm=1.0, seed=None, shuffle=True, progress=True, callback=None,
             after_step=None):
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
    after_step : callable(step), optional
        Called right after every optimizer step, while the gradients are still there
        (SNELLA's :class:`~lrkit.nn.adapters.snella.SparsityAllocator`).

    Returns
    -------
    TrainingHistory
        ``losses`` per step, ``epoch_seconds``, ``converged`` when the loss fell.
    """
    check_int("epochs", epochs, 1)
    check_real("lr", lr, 0.0, low_open=True)
    check_real("warmup", warmup, 0.0, 1.0)
    if not hasattr(batches, "__len__") or len(batches) == 0:
        raise ValueError("batches must be a non-empty sequence (a list), re-read every epoch")
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("model has no trainable parameters (adapt it, or unfreeze some)")
    order_rng = random.Random(seed)
    per_epoch = len(batches)

    def draw():
        order = list(range(per_epoch))
        if shuffle:
            order_rng.shuffle(order)
        return order

    position = epoch_order(per_epoch, draw)

    def compute(step):
        _, within, order = position(step)
        return loss_fn(model, batches[order[within]])

    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    total = epochs * per_epoch
    return train_steps(model, compute, total, optimizer=optimizer,
                       schedule=warmup_decay(total, warmup), max_grad_norm=max_grad_norm,
                       seed=seed, steps_per_epoch=per_epoch, callback=callback,
                       after_step=after_step,
                       progress=progress, label="fine-tuning")
