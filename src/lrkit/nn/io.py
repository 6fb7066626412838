"""Save compressed models as safetensors and load them back into the original architecture."""

from __future__ import annotations

import json

import torch
from torch import nn

from lrkit.nn.compress import _replace
from lrkit.nn.layers import CompensatedLinear, LowRankLinear, SparseLowRankLinear

_METADATA_KEY = "lrkit_layers"


def _spec(module):
    """JSON description of a replaced layer, enough to rebuild an empty one."""
    if isinstance(module, LowRankLinear):
        return {"type": "low_rank", "in": module.in_features, "out": module.out_features,
                "rank": module.rank, "bias": module.up.bias is not None}
    if isinstance(module, SparseLowRankLinear):
        return {"type": "sparse_low_rank", "low_rank": _spec(module.low_rank),
                "nnz": int(module.sparse._nnz())}
    if isinstance(module, CompensatedLinear):
        base = module.base
        base_spec = _spec(base) if type(base) is not nn.Linear else {
            "type": "linear", "in": base.in_features, "out": base.out_features,
            "bias": base.bias is not None}
        return {"type": "compensated", "base": base_spec, "rank": module.compensation.rank}
    return None


def _build(spec):
    kind = spec["type"]
    if kind == "linear":
        return nn.Linear(spec["in"], spec["out"], bias=spec["bias"])
    if kind == "low_rank":
        return LowRankLinear(spec["in"], spec["out"], spec["rank"], bias=spec["bias"])
    if kind == "sparse_low_rank":
        low = _build(spec["low_rank"])
        shape = (low.out_features, low.in_features)
        empty = torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0),
                                        shape)
        return SparseLowRankLinear(low, empty)
    base = _build(spec["base"])
    out, inp = base.weight.shape
    return CompensatedLinear(base, torch.zeros(out, spec["rank"]), torch.zeros(spec["rank"], inp))


def save(model, path):
    """Write ``model``'s weights (factors for the compressed layers) to a ``.safetensors``
    file; the layer structure goes into its metadata. Sparse buffers are stored as their
    ``indices`` and ``values``."""
    from safetensors.torch import save_file

    modules = dict(model.named_modules())
    layers = {name: spec for name, module in modules.items()
              if (spec := _spec(module)) is not None and not _inside_replaced(name, modules)}
    tensors = {}
    for key, value in model.state_dict().items():
        if value.is_sparse:
            value = value.coalesce()
            tensors[f"{key}.__indices"] = value.indices().contiguous()
            tensors[f"{key}.__values"] = value.values().contiguous()
        else:
            tensors[key] = value.detach().contiguous().clone()
    save_file(tensors, str(path), metadata={_METADATA_KEY: json.dumps(layers)})
    return path


def _inside_replaced(name, modules):
    """True for sub-layers of a replaced layer (they are rebuilt with their parent)."""
    parts = name.split(".")
    return any(_spec(modules[".".join(parts[:i])]) is not None for i in range(1, len(parts)))


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
        _replace(model, name, _build(spec))
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
