"""What every lrkit linear layer shares: the :class:`LinearLayer` base, and the registry of
layer kinds through which :func:`lrkit.nn.save` / :func:`lrkit.nn.load` handle any layer.

Every lrkit layer owns its serialisation: ``spec()`` describes it as JSON (enough to
rebuild an empty one) and the class method ``from_spec(spec)`` rebuilds it; the
``@serializable`` decorator registers the class under its ``kind``.
"""

from __future__ import annotations

import torch
from torch import nn

#: ``kind -> class`` of every serialisable lrkit layer.
LAYER_TYPES: dict[str, type] = {}


def serializable(cls):
    """Class decorator: register an lrkit layer (with ``kind``, ``spec``, ``from_spec``)."""
    LAYER_TYPES[cls.kind] = cls
    return cls


def is_lrkit_layer(module) -> bool:
    """Whether ``module`` is a registered (saveable) lrkit layer."""
    return type(module) in LAYER_TYPES.values()


def module_spec(module):
    """``spec()`` of an lrkit layer, or the description of a plain ``nn.Linear``."""
    if is_lrkit_layer(module):
        return module.spec()
    if type(module) is nn.Linear:
        return {"type": "linear", "in": module.in_features, "out": module.out_features,
                "bias": module.bias is not None}
    raise ValueError(f"cannot describe a {type(module).__name__} for saving")


def build_module(spec):
    """An empty module of the described structure (weights are loaded afterwards)."""
    kind = spec["type"]
    if kind == "linear":
        return nn.Linear(spec["in"], spec["out"], bias=spec["bias"])
    if kind not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {kind!r} (known: {sorted(LAYER_TYPES)})")
    return LAYER_TYPES[kind].from_spec(spec)


class LinearLayer(nn.Module):
    """Base of every lrkit linear layer (compression, adapter and training layers): a
    drop-in for ``torch.nn.Linear`` with ``in_features``, ``out_features``, ``bias``, a
    ``kind`` it is saved under (``spec`` / ``from_spec``), the dense weight it applies
    (:meth:`dense_weight`) and its plain equivalent (:meth:`to_linear`).

    Subclasses set ``kind`` and define ``weight`` (or :meth:`dense_weight`) and ``bias``;
    ``forward`` defaults to ``x Wᵀ + b`` with that weight, and the printed form lists
    :meth:`describe`.
    """

    kind = ""

    def dense_weight(self):
        """The ``out × in`` weight the layer applies."""
        return self.weight

    def dense_bias(self):
        """The length-``out`` bias the layer adds (``None`` without one)."""
        return self.bias

    def forward(self, x):
        return nn.functional.linear(x, self.dense_weight(), self.dense_bias())

    def to_linear(self):
        """The equivalent plain ``nn.Linear`` (same outputs)."""
        weight, bias = self.dense_weight().detach(), self.dense_bias()
        linear = nn.Linear(self.in_features, self.out_features, bias=bias is not None,
                           device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(weight)
            if bias is not None:
                linear.bias.copy_(bias)
        return linear

    def describe(self):
        """``name -> value`` shown after the shape when the layer is printed."""
        return {"rank": self.rank} if hasattr(self, "rank") else {}

    def extra_repr(self):
        fields = "".join(f", {k}={v}" for k, v in self.describe().items())
        return f"in_features={self.in_features}, out_features={self.out_features}{fields}"
