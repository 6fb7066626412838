"""Streaming calibration statistics of linear layers, gathered with forward hooks.

Activations are never stored: each hook adds ``Xᵀ X`` (float64) and ``Σ|x|`` of its batch of
inputs to running sums. With a loss, squared gradients of each weight are summed too
(the empirical Fisher information FWSVD needs).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch


@dataclass
class LayerStatistics:
    """What one linear layer saw during calibration.

    Attributes
    ----------
    covariance : torch.Tensor (in × in, float64)
        ``C = Σ_t x_t x_tᵀ`` over all calibration tokens (uncentred second moment).
    abs_sum : torch.Tensor (in,)
        ``Σ_t |x_t|`` per input channel (ASVD's activation scale is ``abs_sum / tokens``).
    tokens : int
    fisher : torch.Tensor (out × in) or None
        ``Σ_batches (∂L/∂W)²``: the empirical Fisher information of each weight with one
        sample per batch. FWSVD's paper (Hsu et al. 2022) sums squared *per-example*
        gradients; the two agree for batches of one example. A loss that couples the
        examples of a batch (``contrastive_loss``, whose negatives are the batch's other
        sentences) has no per-example gradient, so the batch is the sample; for a loss that
        is a mean over independent examples, pass batches of one example to get the
        paper's estimate.
    total : torch.Tensor (in,) or None
        ``Σ_t x_t`` (the input mean is ``total / tokens``).
    """

    covariance: torch.Tensor
    abs_sum: torch.Tensor
    tokens: int = 0
    fisher: torch.Tensor | None = field(default=None, repr=False)
    total: torch.Tensor | None = field(default=None, repr=False)

    @property
    def mean(self):
        """Mean input ``Σ x / tokens`` (zeros when the sum was not recorded)."""
        if self.total is None:
            return torch.zeros_like(self.abs_sum)
        return self.total / max(self.tokens, 1)

    @property
    def abs_mean(self):
        return self.abs_sum / max(self.tokens, 1)


def _move(batch, device):
    if isinstance(batch, Mapping):
        return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
    return batch.to(device)


def _call(model, batch):
    return model(**batch) if isinstance(batch, Mapping) else model(batch)


def _token_mask(batch):
    """Boolean mask of real (non-padding) tokens, when the batch carries one."""
    if isinstance(batch, Mapping) and "attention_mask" in batch:
        return batch["attention_mask"].bool()
    return None


def collect_statistics(model, batches, layers, loss_fn=None, progress=None, check=True):
    """Run ``batches`` through ``model`` and return ``{name: LayerStatistics}``.

    Parameters
    ----------
    model : torch.nn.Module
    batches : iterable
        Model inputs: dicts of tensors (``model(**batch)``; an ``attention_mask`` drops
        padding tokens from the statistics) or tensors (``model(batch)``).
    layers : dict of str -> nn.Linear, or a list of layer names
    loss_fn : callable(model, batch) -> scalar tensor, optional
        When given, gradients are taken and their squares summed per weight (Fisher, one
        sample per batch: see :class:`LayerStatistics`).
    progress : callable(int), optional
        Called with the number of batches done.
    check : bool, default True
        Refuse statistics with NaN or inf (:func:`check_finite`), naming the layer.

    A batch the model cannot take raises a one-line ``ValueError`` naming the batch.
    """
    layers = _named_layers(model, layers)
    device = next(model.parameters()).device
    stats = {}
    state = {"mask": None}

    def hook(name):
        def record(module, inputs, output):
            x = inputs[0].detach()
            if state["mask"] is not None and x.dim() == 3 and x.shape[:2] == state["mask"].shape:
                x = x[state["mask"]]
            x = x.reshape(-1, x.shape[-1]).to(torch.float64)
            entry = stats.get(name)
            if entry is None:
                n = x.shape[1]
                entry = stats[name] = LayerStatistics(
                    torch.zeros(n, n, dtype=torch.float64, device=x.device),
                    torch.zeros(n, dtype=torch.float64, device=x.device))
            entry.covariance += x.T @ x
            entry.abs_sum += x.abs().sum(dim=0)
            if entry.total is None:
                entry.total = torch.zeros_like(entry.abs_sum)
            entry.total += x.sum(dim=0)
            entry.tokens += x.shape[0]
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in layers.items()]
    was_training = model.training
    model.eval()
    try:
        for count, batch in enumerate(batches, start=1):
            batch = _move(batch, device)
            state["mask"] = _token_mask(batch)
            try:
                if loss_fn is None:
                    with torch.no_grad():
                        _call(model, batch)
                else:
                    _accumulate_fisher(model, batch, layers, stats, loss_fn)
            except (RuntimeError, TypeError, IndexError, ValueError, AttributeError) as error:
                raise ValueError(f"calibration batch {count} does not fit the model: "
                                 f"{error}") from error
            if progress is not None:
                progress(count)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    if not stats:
        raise ValueError("calibration saw no input: batches is empty or the layers never ran")
    return check_finite(stats) if check else stats


def _named_layers(model, layers):
    """``{name: module}`` from a dict, or from a list of names of ``model``'s modules."""
    if isinstance(layers, dict):
        return layers
    if isinstance(layers, str) or not hasattr(layers, "__iter__"):
        raise ValueError("layers must be a dict {name: module} or a list of layer names; "
                         f"got {type(layers).__name__}")
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules]
    if unknown:
        raise ValueError(f"layers names modules the model does not have: {unknown[:3]} "
                         "(see lrkit.nn.linear_layers(model) for the names)")
    return {name: modules[name] for name in layers}


def check_finite(stats):
    """``stats``, after refusing any layer whose statistics hold NaN or inf (by name)."""
    for name, entry in stats.items():
        if not (torch.isfinite(entry.covariance).all() and torch.isfinite(entry.abs_sum).all()
                and (entry.fisher is None or torch.isfinite(entry.fisher).all())):
            raise ValueError(f"calibration inputs of layer {name!r} contain NaN or inf (a batch "
                             "with non-finite values, or an overflow, e.g. in float16); "
                             "clean the batches or calibrate in float32")
    return stats


def _accumulate_fisher(model, batch, layers, stats, loss_fn):
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model, batch)
    loss.backward()
    for name, module in layers.items():
        grad = module.weight.grad
        if grad is None or name not in stats:
            continue
        squared = grad.detach().to(torch.float64) ** 2
        entry = stats[name]
        entry.fisher = squared if entry.fisher is None else entry.fisher + squared
    model.zero_grad(set_to_none=True)


def calibrate(model, layers, batches, loss_fn=None, progress=None):
    """The 0.1 name of :func:`collect_statistics` (arguments ``layers, batches`` in the old
    order); ``lrkit.calibrate`` is sensor-gain calibration, the one ``calibrate``."""
    warnings.warn("lrkit.nn.calibrate(model, layers, batches) is now "
                  "lrkit.nn.collect_statistics(model, batches, layers)", DeprecationWarning,
                  stacklevel=2)
    return collect_statistics(model, batches, layers, loss_fn=loss_fn, progress=progress)
