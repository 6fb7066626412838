"""What every adapter layer shares: a frozen base ``nn.Linear`` plus a trainable update.

An adapter layer computes ``y = W₀ x + b + Δ(θ) x`` where ``θ`` are the adapter's tensors
(trainable parameters and frozen factors such as singular vectors) and ``W₀`` is a frozen
buffer. Methods that start from the pretrained weight's own singular directions (PiSSA,
SVFit, SALT) take them out of the base: ``W₀ = W − Δ(θ₀)``, so every method starts at the
pretrained function exactly.

Saving an adapter stores ``θ`` only (never ``W₀`` or ``b``); loading rebuilds ``W₀`` from
the original weight and the saved tensors (:meth:`AdapterLinear.attach`).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from lrkit.nn.base import LinearLayer, serializable
from lrkit.registry import Method, Registry

#: The family of :func:`lrkit.nn.adapt`: ``method -> declaration`` whose ``target`` is the
#: adapter class (every class also registers as a serialisable layer).
ADAPTERS = Registry("adapt", "adapter layers: a frozen nn.Linear plus a trainable update")

#: Tensors of an adapter layer that belong to the base model, not to the adapter.
BASE_TENSORS = ("weight", "bias")


def register_adapter(cls):
    """Class decorator: make ``cls`` available as ``adapt(..., method=cls.kind)``."""
    ADAPTERS.register(Method.of_class(serializable(cls)))
    return cls


class AdapterLinear(LinearLayer):
    """Base class: a frozen ``nn.Linear`` (``weight``, ``bias`` buffers) plus an adapter.

    Subclasses declare ``kind``, ``OPTIONS`` (``name -> default``) and implement
    :meth:`build` (create the adapter's tensors, empty), :meth:`initialize` (set them from the
    pretrained weight), :meth:`update` (``Δ(θ) x``) and :meth:`delta` (the dense ``Δ(θ)``).
    Those with a non-zero starting update override :meth:`initial_delta`.
    """

    kind = ""
    OPTIONS: dict = {}

    def __init__(self, in_features, out_features, rank, bias=True, alpha=None, **options):
        super().__init__()
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.alpha = float(rank if alpha is None else alpha)
        self.options = {**self.OPTIONS, **options}
        self.register_buffer("weight", torch.zeros(out_features, in_features))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)
        self.build()

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def wrap(cls, linear, rank, alpha=None, generator=None, **options):
        """Adapter around the ``nn.Linear`` ``linear`` (which is left untouched)."""
        layer = cls(linear.in_features, linear.out_features, rank,
                    bias=linear.bias is not None, alpha=alpha, **options)
        layer.to(device=linear.weight.device, dtype=linear.weight.dtype)
        with torch.no_grad():
            layer.initialize(linear.weight.detach(), generator)
        layer.attach(linear)
        return layer

    def attach(self, linear):
        """Set the frozen base from the pretrained ``linear`` and the adapter's tensors:
        ``W₀ = W − Δ(θ₀)``."""
        with torch.no_grad():
            W = linear.weight.detach().to(self.weight.dtype)
            self.weight.copy_(W - self.initial_delta().to(W.dtype))
            if self.bias is not None:
                self.bias.copy_(linear.bias.detach())
        return self

    def build(self):
        raise NotImplementedError

    def initialize(self, W, generator):
        raise NotImplementedError

    # -- the update -----------------------------------------------------------------------
    def update(self, x):
        """``Δ(θ) x`` for a batch ``x`` (…, in)."""
        raise NotImplementedError

    def delta(self):
        """The dense update ``Δ(θ)`` (out × in)."""
        raise NotImplementedError

    def initial_delta(self):
        """``Δ(θ₀)``, the update at initialisation (zero unless overridden)."""
        return torch.zeros_like(self.weight)

    #: How the layer exports to PEFT: ``"lora"`` (it is a LoRA: its factors, natively),
    #: ``"delta"`` (its change from the base weight, exactly, as a LoRA, when asked), or
    #: None (no low-rank form PEFT has).
    PEFT_FORM = None

    def lora_factors(self):
        """``(B, A)`` with ``B A = Δ(θ) − Δ(θ₀)``, the change from the base weight (what a
        PEFT LoRA adds to the unmodified base layer)."""
        raise NotImplementedError(f"{self.kind} has no LoRA form")

    @property
    def scaling(self):
        return self.alpha / self.rank

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + self.update(x)

    def merged_weight(self):
        """``W₀ + Δ(θ)``: the weight of the equivalent plain ``nn.Linear``."""
        with torch.no_grad():
            return self.weight + self.delta().to(self.weight.dtype)

    def dense_weight(self):
        """The merged ``W₀ + Δ(θ)`` (what :meth:`to_linear` keeps)."""
        return self.merged_weight()

    # -- serialisation --------------------------------------------------------------------
    def adapter_state(self):
        """The adapter's own tensors (trainable and frozen), without the base weight."""
        return {key: value for key, value in self.state_dict().items()
                if key not in BASE_TENSORS}

    #: Frozen tensors :meth:`rebuild` recomputes from the pretrained weight: adapter files
    #: leave them out.
    REBUILT: tuple = ()

    def saved_state(self):
        """What an adapter file holds: :meth:`adapter_state` less :attr:`REBUILT`."""
        return {key: value for key, value in self.adapter_state().items()
                if key not in self.REBUILT}

    def rebuild(self, W):
        """Recompute :attr:`REBUILT` from the pretrained weight ``W`` after loading the
        saved state (nothing to do for most adapters)."""

    def spec(self):
        return {"type": self.kind, "in": self.in_features, "out": self.out_features,
                "rank": self.rank, "bias": self.bias is not None, "alpha": self.alpha,
                "options": self.options}

    @classmethod
    def from_spec(cls, spec):
        return cls(spec["in"], spec["out"], spec["rank"], bias=spec["bias"],
                   alpha=spec["alpha"], **spec.get("options", {}))

    def describe(self):
        return {"rank": self.rank, "alpha": f"{self.alpha:g}", **self.options}


def kaiming_uniform(shape, generator, like):
    """LoRA's down-projection initialisation (Kaiming-uniform with a = √5, as
    ``nn.Linear``): entries uniform in ``±1/√fan_in``."""
    bound = 1.0 / math.sqrt(shape[-1])
    values = torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1
    return (values * bound).to(device=like.device, dtype=like.dtype)


def top_singular(W, rank):
    """``U_r (out × r), s_r (r,), V_r (in × r)`` of ``W``, computed in float64."""
    U, s, Vh = torch.linalg.svd(W.to(torch.float64), full_matrices=False)
    return U[:, :rank], s[:rank], Vh[:rank].T
