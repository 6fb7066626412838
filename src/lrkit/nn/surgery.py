"""Model surgery: find the layers to work on, replace and restore them, run calibration.

Everything that edits a model's module tree or runs data through it for statistics goes
through here, so compression, compensation, adapters and training layers share one way
of doing it.
"""

from __future__ import annotations

import torch
from torch import nn

#: Default layer-name filters: the attention and MLP layers of BERT-style encoders
#: (``attention``, ``intermediate``, ``output``) and LLaMA-style decoders (``self_attn``,
#: ``mlp``); poolers and output heads stay.
INCLUDE = ("attention", "intermediate", "output", "self_attn", "mlp")
EXCLUDE = ("pooler", "lm_head")


def linear_layers(model, include=INCLUDE, exclude=EXCLUDE):
    """``{name: module}`` of the ``nn.Linear`` layers whose name contains one of ``include``
    and none of ``exclude``."""
    _check_module(model)
    return {name: module for name, module in model.named_modules()
            if isinstance(module, nn.Linear)
            and any(key in name for key in include)
            and not any(key in name for key in exclude)}


def select_layers(model, layers=None):
    """The ``{name: nn.Linear}`` of ``model`` to work on: ``layers`` as names, a dict (its
    names are looked up in ``model``, which may be a copy of the model the dict came
    from), or None for :func:`linear_layers`; every one checked to exist, be
    ``nn.Linear`` and be finite."""
    _check_module(model)
    if layers is None:
        layers = linear_layers(model)
    elif isinstance(layers, (list, tuple, dict)):
        modules = dict(model.named_modules())
        missing = [n for n in layers if not isinstance(modules.get(n), nn.Linear)]
        if missing:
            raise ValueError(f"not nn.Linear layers of the model: {missing[:3]}")
        layers = {n: modules[n] for n in layers}
    if not layers:
        raise ValueError("the model has no matching nn.Linear layers to compress")
    return check_finite_weights(layers)


def check_finite_weights(layers):
    """``layers`` (name -> module), after refusing any whose weight holds NaN or inf."""
    for name, module in layers.items():
        if not torch.isfinite(module.weight).all():
            raise ValueError(f"layer {name} has a non-finite weight (NaN or inf)")
    return layers


def _check_module(model):
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module; got {type(model).__name__}")


def replace_module(model, name, module):
    """Put ``module`` at the dotted path ``name`` of ``model``; return the module it replaced
    (pass it back to restore the original)."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child)
    setattr(parent, child, module)
    return old


def put_module(model, name, module):
    """Put ``module`` at the dotted path ``name`` of ``model`` and return the model; the
    empty name replaces the model itself (then ``module`` is returned)."""
    if not name:
        return module
    replace_module(model, name, module)
    return model


