"""What every layer trained in low-rank form shares: shape, bias, dense weight, forward,
serialisation (``spec`` / ``from_spec`` through :func:`lrkit.nn.layers.serializable`)."""

from __future__ import annotations

import math

import torch
from torch import nn

from lrkit.nn.base import LinearLayer, serializable


class TrainingLinear(LinearLayer):
    """Base of the low-rank training layers: ``y = x Wᵀ + b`` with ``W`` built by
    :meth:`weight` from the layer's own parameters.

    Subclasses set ``kind`` and ``OPTIONS`` (name -> default), and implement :meth:`build`
    (allocate parameters), :meth:`initialize` (from a dense weight) and :attr:`weight`.
    """

    kind = "training"
    OPTIONS: dict = {}

    def __init__(self, in_features, out_features, rank, bias=True, **options):
        super().__init__()
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise ValueError(f"{self.kind} takes options {sorted(self.OPTIONS)}; got "
                             f"{sorted(unknown)}")
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.options = {**self.OPTIONS, **options}
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.build()

    @classmethod
    def from_linear(cls, linear, rank, generator=None, **options):
        """A layer of this kind initialised from ``linear`` (its weight and bias)."""
        layer = cls(linear.in_features, linear.out_features, rank,
                    bias=linear.bias is not None, **options)
        layer.to(linear.weight.device)
        with torch.no_grad():
            layer.initialize(linear.weight.detach().float(), generator)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer.to(linear.weight.dtype)

    def build(self):
        raise NotImplementedError

    def initialize(self, weight, generator):
        raise NotImplementedError

    @property
    def weight(self):
        raise NotImplementedError

    def spec(self):
        return {"type": self.kind, "in": self.in_features, "out": self.out_features,
                "rank": self.rank, "bias": self.bias is not None, "options": self.options}

    @classmethod
    def from_spec(cls, spec):
        return cls(spec["in"], spec["out"], spec["rank"], bias=spec["bias"],
                   **spec["options"])

    def describe(self):
        return {"rank": self.rank, **self.options}


def top_factors(weight, rank):
    """``(U_r √S_r, √S_r V_rᵀ)`` of ``weight``: the split of its top-``rank`` part."""
    U, s, Vh = torch.linalg.svd(weight, full_matrices=False)
    root = s[:rank].sqrt()
    return U[:, :rank] * root, root[:, None] * Vh[:rank]


def uniform_(tensor, bound, generator):
    """Fill ``tensor`` with ``U(−bound, bound)`` from ``generator``."""
    values = torch.rand(tensor.shape, generator=generator) * 2 - 1
    tensor.copy_(values.to(tensor.device, tensor.dtype) * bound)
    return tensor


def linear_bound(fan_in):
    """The bound of ``nn.Linear``'s default (Kaiming-uniform, a = √5) initialisation."""
    return 1.0 / math.sqrt(fan_in)


__all__ = ["TrainingLinear", "linear_bound", "serializable", "top_factors", "uniform_"]
