"""Model surgery: find the layers to work on, replace and restore them, run calibration.

Everything that edits a model's module tree or runs data through it for statistics goes
through here, so compression, compensation, adapters and training layers share one way
of doing it.
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit.nn.structure import as_linear, block_linear_layers, is_conv1d

#: Layer-name filters for models without repeated blocks: the attention and MLP layers of
#: BERT-style encoders (``attention``, ``intermediate``, ``output``) and LLaMA-style decoders
#: (``self_attn``, ``mlp``); poolers and output heads stay.
INCLUDE = ("attention", "intermediate", "output", "self_attn", "mlp")
EXCLUDE = ("pooler", "lm_head")


def linear_layers(model, include=None, exclude=EXCLUDE):
    """``{name: module}`` of the layers to work on by default.

    Found by structure (:mod:`lrkit.nn.structure`): the linear layers (``nn.Linear``, and
    GPT-2's ``Conv1D``) inside the model's repeated blocks, whatever the family names them;
    the output head, the embeddings and poolers stay. With ``include`` (name substrings), or
    for a model without repeated blocks, the ``nn.Linear`` layers whose name contains one of
    ``include`` (default :data:`INCLUDE`); never those whose name contains one of
    ``exclude``.
    """
    check_model(model)
    found = block_linear_layers(model) if include is None else {}
    if not found:
        keys = INCLUDE if include is None else include
        found = {name: module for name, module in model.named_modules()
                 if isinstance(module, nn.Linear) and any(key in name for key in keys)}
    return {name: module for name, module in found.items()
            if not any(key in name for key in exclude)}


def select_layers(model, layers=None):
    """The ``{name: nn.Linear}`` of ``model`` to work on: ``layers`` as names, a dict (its
    names are looked up in ``model``, which may be a copy of the model the dict came
    from), or None for :func:`linear_layers`; every one checked to exist, be
    ``nn.Linear`` and be finite."""
    check_model(model)
    modules = dict(model.named_modules())
    names = list(linear_layers(model) if layers is None
                 else [layers] if isinstance(layers, str) else layers)
    conv = [n for n in names if is_conv1d(modules.get(n))]
    if conv:
        raise ValueError(f"{conv[0]} is a transformers Conv1D; turn the model's Conv1D "
                         "layers into nn.Linear first: lrkit.nn.linearize(model)")
    missing = [n for n in names if not isinstance(modules.get(n), nn.Linear)]
    if missing:
        raise ValueError(f"not nn.Linear layers of the model: {missing[:3]}")
    if not names:
        raise ValueError("the model has no matching nn.Linear layers to compress")
    return check_finite_weights({n: modules[n] for n in names})


def check_finite_weights(layers):
    """``layers`` (name -> module), after refusing any whose weight holds NaN or inf."""
    for name, module in layers.items():
        if not torch.isfinite(module.weight).all():
            raise ValueError(f"layer {name} has a non-finite weight (NaN or inf)")
    return layers


def check_model(model):
    """Refuse anything but a torch.nn.Module, in one line."""
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


def linearize(model, skip=()):
    """Replace every ``Conv1D`` of ``model`` (but those named in ``skip``) by its
    :func:`~lrkit.nn.structure.as_linear` in place; returns the names replaced."""
    names = [name for name, module in model.named_modules()
             if is_conv1d(module) and name not in skip]
    for name in names:
        replace_module(model, name, as_linear(model.get_submodule(name)))
    return names


def put_module(model, name, module):
    """Put ``module`` at the dotted path ``name`` of ``model`` and return the model; the
    empty name replaces the model itself (then ``module`` is returned)."""
    if not name:
        return module
    replace_module(model, name, module)
    return model


