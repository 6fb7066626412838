"""Save compressed models as safetensors (atomically, with the user's usual file
permissions) and load them back into the original architecture."""

from __future__ import annotations

import json

import torch

import lrkit.nn.layers as _layer_kinds  # noqa: F401 — registers the layer kinds
from lrkit.io import atomic_write
from lrkit.nn.base import build_module, is_lrkit_layer, module_spec
from lrkit.nn.surgery import replace_module

_METADATA_KEY = "lrkit_layers"


def save(model, path):
    """Write ``model``'s weights (factors for the compressed layers) to a ``.safetensors``
    file; the layer structure goes into its metadata. Sparse buffers are stored as their
    ``indices`` and ``values``."""
    from safetensors.torch import save_file

    modules = dict(model.named_modules())
    layers = {name: module_spec(module) for name, module in modules.items()
              if is_lrkit_layer(module) and not _inside_replaced(name, modules)}
    tensors = {}
    for key, value in model.state_dict().items():
        if value.is_sparse:
            value = value.coalesce()
            tensors[f"{key}.__indices"] = value.indices().contiguous()
            tensors[f"{key}.__values"] = value.values().contiguous()
        else:
            tensors[key] = value.detach().contiguous().clone()
    metadata = {_METADATA_KEY: json.dumps(layers)}
    atomic_write(path, lambda temporary: save_file(tensors, temporary, metadata=metadata))
    return path


def _inside_replaced(name, modules):
    """True for sub-layers of a replaced layer (they are rebuilt with their parent)."""
    parts = name.split(".")
    return any(is_lrkit_layer(modules[".".join(parts[:i])]) for i in range(1, len(parts)))


def load(model, path):
    """Load a file written by :func:`save` into ``model`` (the uncompressed architecture it
    came from): the compressed layers are rebuilt, then all weights are loaded strictly.
    Returns ``model``."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    if _METADATA_KEY not in metadata:
        raise ValueError(f"{path} was not written by lrkit.nn.save (no layer metadata)")
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
    model.load_state_dict(state, strict=True)
    return model
