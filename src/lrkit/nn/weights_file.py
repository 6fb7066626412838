"""The ``.safetensors`` file of a (compressed) model: every tensor once, tied ones recorded
as aliases, the replaced layers' structure and the remaining ``Conv1D`` layers in the
metadata, so :func:`read_weights` rebuilds the layers in the original architecture and loads
the weights strictly."""

from __future__ import annotations

import json

import torch

import lrkit.nn.layers as _layer_kinds  # noqa: F401 — registers the layer kinds
from lrkit.io import atomic_write
from lrkit.nn.base import build_module, is_lrkit_layer, module_spec
from lrkit.nn.structure import is_conv1d
from lrkit.nn.surgery import linearize, replace_module

_METADATA_KEY = "lrkit_layers"
#: Metadata key of the ``Conv1D`` layers the saved model still had (the others had become
#: ``nn.Linear`` and are turned so in the model loaded into).
_CONV1D_KEY = "lrkit_conv1d"
#: Metadata key of the tied tensors, stored once: ``{name: the name it is stored under}``.
_TIED_KEY = "lrkit_tied"


def write_weights(model, path):
    """The ``.safetensors`` file of :func:`save`: every tensor once (tied ones recorded as
    aliases), the replaced layers' structure and the remaining ``Conv1D`` layers in the
    metadata; written atomically."""
    from safetensors.torch import save_file

    modules = dict(model.named_modules())
    layers = layer_specs(model)
    tensors, tied, owners = {}, {}, {}
    for key, value in model.state_dict().items():
        if not value.is_sparse and value.numel():
            place = (value.untyped_storage().data_ptr(), value.storage_offset(),
                     tuple(value.shape), tuple(value.stride()))
            if place in owners:  # a tied weight (an output head sharing the embedding)
                tied[key] = owners[place]
                continue
            owners[place] = key
        if value.is_sparse:
            value = value.coalesce()
            tensors[f"{key}.__indices"] = value.indices().contiguous()
            tensors[f"{key}.__values"] = value.values().contiguous()
        else:
            tensors[key] = value.detach().contiguous().clone()
    conv1d = [name for name, module in modules.items() if is_conv1d(module)]
    metadata = {_METADATA_KEY: json.dumps(layers), _CONV1D_KEY: json.dumps(conv1d),
                _TIED_KEY: json.dumps(tied)}
    atomic_write(path, lambda temporary: save_file(tensors, temporary, metadata=metadata))


def layer_specs(model):
    """``{name: spec}`` of the lrkit layers that replaced layers of ``model``."""
    modules = dict(model.named_modules())
    return {name: module_spec(module) for name, module in modules.items()
            if is_lrkit_layer(module) and not _inside_replaced(name, modules)}


def _inside_replaced(name, modules):
    """True for sub-layers of a replaced layer (they are rebuilt with their parent)."""
    parts = name.split(".")
    return any(is_lrkit_layer(modules[".".join(parts[:i])]) for i in range(1, len(parts)))


def read_weights(model, path):
    """Put the file :func:`write_weights` wrote into ``model`` (the uncompressed
    architecture it came from): the compressed layers are rebuilt, then all weights are
    loaded strictly. Returns the model."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except Exception as error:  # safetensors raises its own error types for damaged files
        raise ValueError(f"{path} is not a readable safetensors file: "
                         f"{str(error).splitlines()[0]}") from error
    if _METADATA_KEY not in metadata:
        raise ValueError(f"{path} was not written by lrkit.nn.save (no layer metadata)")
    if _CONV1D_KEY in metadata:
        kept = set(json.loads(metadata[_CONV1D_KEY]))
        linearize(model, skip=kept)
    for name, spec in json.loads(metadata[_METADATA_KEY]).items():
        replace_module(model, name, build_module(spec))
    state = {}
    for key, value in tensors.items():
        if key.endswith(".__indices"):
            base = key[: -len(".__indices")]
            shape = model.get_buffer(base).shape
            state[base] = torch.sparse_coo_tensor(value, tensors[f"{base}.__values"], shape)
        elif not key.endswith(".__values"):
            state[key] = value
    for key, owner in json.loads(metadata.get(_TIED_KEY, "{}")).items():
        state[key] = state[owner]
    model.load_state_dict(state, strict=True)
    return model
