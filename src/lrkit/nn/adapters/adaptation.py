"""Put adapters on a pretrained model, count what trains, fold them back.

>>> tuned = lnn.adapt(model, method="svfit", rank=8)       # doctest: +SKIP
>>> lnn.trainable_parameters(tuned)                          # doctest: +SKIP
>>> merged = lnn.merge(tuned)                                # doctest: +SKIP

The model's own layers are frozen; every targeted ``nn.Linear`` is replaced by an adapter
layer from :data:`lrkit.nn.adapters.ADAPTERS` that starts at the pretrained function.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from lrkit._validation import check_int
from lrkit.nn.adapters import ADAPTERS, AdapterLinear
from lrkit.nn.adapters.rank_allocation import allocate_ranks, gradient_spectra
from lrkit.nn.surgery import check_finite_weights, put_module

#: Attribute of an adapted model that records how it was adapted.
CONFIG_ATTRIBUTE = "lrkit_adapter_config"


def adapt(model, method="lora", rank=8, *, targets="all-linear", alpha=None, seed=None,
          inplace=False, modules_to_save=(), budget=None, calibration=None, loss_fn=None,
          **options):
    """Freeze ``model`` and wrap its targeted ``nn.Linear`` layers in adapters.

    Parameters
    ----------
    model : torch.nn.Module
    method : {"lora", "pissa", "svfit", "salt", "block_lora", "snell"}
        See :mod:`lrkit.nn.adapters`.
    rank : int or "auto"
        The adapter rank of every layer, or ``"auto"``: CE-SSL's one-shot allocation of
        ``budget`` trainable parameters across layers from the gradients of ``loss_fn`` on
        ``calibration`` batches (:mod:`lrkit.nn.adapters.rank_allocation`).
    targets : "all-linear", list of str, or callable(name, module) -> bool
        Which ``nn.Linear`` layers get adapters. A name matches a layer whose dotted name
        equals it or ends with ``"." + name`` (``"query"`` matches every query projection).
        ``"all-linear"`` takes every ``nn.Linear`` outside ``modules_to_save``.
    alpha : float, optional
        Scaling numerator ``α`` of ``(α / r) B A``; default ``rank`` (scaling 1).
    seed : int, optional
        Seed of the random initialisations (LoRA's ``A``).
    inplace : bool, default False
        Modify ``model`` rather than a copy.
    modules_to_save : sequence of str
        Modules left fully trainable (a task head), saved with the adapter.
    **options
        The method's own options (``deactivation`` for LoRA, ``blocks`` for Block-LoRA,
        ``lora_rank`` for SALT, ``kernel`` and ``density`` for SNELL).

    Returns
    -------
    torch.nn.Module
        The adapted model, with only adapter (and ``modules_to_save``) parameters trainable
        and the same outputs as ``model``.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    cls = ADAPTERS.get(method).target
    ADAPTERS.validate(method, options)
    if alpha is not None and not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"alpha must be a positive number; got {alpha!r}")
    if any(isinstance(m, AdapterLinear) for m in model.modules()):
        raise ValueError("model already has adapters: merge them first (lnn.merge)")
    modules_to_save = _check_modules(model, modules_to_save)
    layers = target_layers(model, targets, modules_to_save)
    ranks = _ranks(model, layers, rank, budget, calibration, loss_fn)

    adapted = model if inplace else copy.deepcopy(model)
    generator = torch.Generator().manual_seed(0 if seed is None else check_int("seed", seed, 0))
    for parameter in adapted.parameters():
        parameter.requires_grad_(False)
    for name, layer_rank in ranks.items():
        if layer_rank:
            linear = adapted.get_submodule(name)
            adapted = put_module(adapted, name, cls.wrap(linear, layer_rank, alpha, generator,
                                                         **options))
    for name in modules_to_save:
        for parameter in adapted.get_submodule(name).parameters():
            parameter.requires_grad_(True)
    setattr(adapted, CONFIG_ATTRIBUTE, {"method": method, "modules_to_save": modules_to_save})
    return adapted


def _check_modules(model, names):
    if isinstance(names, str):
        names = [names]
    modules = dict(model.named_modules())
    missing = [name for name in names if name not in modules]
    if missing:
        raise ValueError(f"modules_to_save names no module of the model: {missing[:3]}")
    return list(names)


def target_layers(model, targets="all-linear", exclude=()):
    """``{name: nn.Linear}`` selected by ``targets`` (see :func:`adapt`), outside the
    modules named in ``exclude``."""
    def excluded(name):
        return any(name == e or name.startswith(e + ".") for e in exclude)

    linear = {name: m for name, m in model.named_modules()
              if type(m) is nn.Linear and not excluded(name)}
    if isinstance(targets, str) and targets == "all-linear":
        chosen = linear
    elif callable(targets):
        chosen = {name: m for name, m in linear.items() if targets(name, m)}
    elif isinstance(targets, (list, tuple)) and all(isinstance(t, str) for t in targets):
        chosen = {name: m for name, m in linear.items()
                  if any(name == t or name.endswith("." + t) for t in targets)}
        unmatched = [t for t in targets
                     if not any(n == t or n.endswith("." + t) for n in chosen)]
        if unmatched:
            raise ValueError(f"targets {unmatched[:3]} match no nn.Linear layer of the model")
    else:
        raise ValueError(f"targets must be 'all-linear', a list of layer names or a callable"
                         f"(name, module) -> bool; got {targets!r}")
    if not chosen:
        raise ValueError("targets select no nn.Linear layer of the model")
    return check_finite_weights(chosen)


def _ranks(model, layers, rank, budget, calibration, loss_fn):
    if rank == "auto":
        if budget is None or calibration is None or loss_fn is None:
            raise ValueError("rank='auto' allocates a parameter budget from gradients: pass "
                             "budget=, calibration= (batches) and loss_fn=(model, batch)")
        check_int("budget", budget, 1)
        spectra = gradient_spectra(model, layers, calibration, loss_fn)
        shapes = {name: tuple(m.weight.shape) for name, m in layers.items()}
        return allocate_ranks(spectra, shapes, budget)
    if budget is not None:
        raise ValueError("budget= applies to rank='auto' only; pass rank='auto' or drop it")
    check_int("rank", rank, 1)
    for name, module in layers.items():
        if rank > min(module.in_features, module.out_features):
            raise ValueError(f"rank={rank} exceeds min(in, out)="
                             f"{min(module.in_features, module.out_features)} of layer "
                             f"{name}; lower the rank or narrow targets")
    return dict.fromkeys(layers, rank)


def adapter_layers(model):
    """``{name: adapter layer}`` of an adapted model."""
    return {name: m for name, m in model.named_modules() if isinstance(m, AdapterLinear)}


def merge(model, inplace=False):
    """Fold every adapter into a plain ``nn.Linear`` with the same outputs; all parameters
    trainable again, as before :func:`adapt`. A copy unless ``inplace``."""
    layers = adapter_layers(model)
    if not layers:
        raise ValueError("model has no adapters to merge (adapt it first)")
    merged = model if inplace else copy.deepcopy(model)
    for name in layers:
        merged = put_module(merged, name, merged.get_submodule(name).to_linear())
    for parameter in merged.parameters():
        parameter.requires_grad_(True)
    if hasattr(merged, CONFIG_ATTRIBUTE):
        delattr(merged, CONFIG_ATTRIBUTE)
    return merged


class ParameterCount(int):
    """The number of trainable parameters of a model (an ``int``), with its breakdown:
    ``rows`` of ``(module, trainable, size)`` and the model's ``total``; ``str`` gives the
    table by module."""

    def __new__(cls, trainable, rows=(), total=0):
        count = super().__new__(cls, trainable)
        count.rows, count.total = list(rows), total
        return count

    @property
    def trainable(self):
        return int(self)

    @property
    def fraction(self):
        return int(self) / max(self.total, 1)

    def __str__(self):
        width = max([len("module")] + [len(name) for name, _, _ in self.rows])
        lines = [f"{'module':<{width}}  {'trainable':>10}  {'total':>11}"]
        lines += [f"{name:<{width}}  {t:>10,}  {n:>11,}" for name, t, n in self.rows]
        lines.append(f"{'all':<{width}}  {int(self):>10,}  {self.total:>11,}  "
                     f"({100 * self.fraction:.3f} % trainable)")
        return "\n".join(lines)


def trainable_parameters(model, verbose=None):
    """The trainable parameters of ``model``: a :class:`ParameterCount`, an ``int`` whose
    ``str`` is a table by module (``verbose`` is accepted for 0.1 callers and changes
    nothing)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    rows = []
    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        count = sum(p.numel() for p in own if p.requires_grad)
        if count:
            size = sum(p.numel() for p in own)
            if isinstance(module, AdapterLinear):
                size += sum(b.numel() for b in (module.weight, module.bias) if b is not None)
            rows.append((name or "(model)", count, size))
    total = sum(p.numel() for p in model.parameters())
    total += sum(b.numel() for m in adapter_layers(model).values()
                 for b in (m.weight, m.bias) if b is not None)
    return ParameterCount(trainable, rows, total)
