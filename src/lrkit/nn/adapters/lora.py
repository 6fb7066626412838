"""LoRA and the adapters built on its two factors: PiSSA and Block-LoRA.

- LoRA (Hu et al. 2021): ``Δ = (α/r) B A``, ``A`` (r × in) Kaiming-uniform, ``B`` (out × r)
  zero, so training starts at the pretrained function. With ``deactivation=p`` (CE-SSL's
  random deactivation, paper 7) each training forward switches the layer's adapter off with
  probability ``p``: the layer is then its frozen ``W x + b`` and the adapter's products and
  gradients are skipped, so a step costs less. The kept updates are scaled by ``1 / (1 − p)``
  (inverted dropout; the paper's code scales the merged update by ``1 − p`` instead, the same
  expected function), so evaluation and :func:`~lrkit.nn.merge` use ``Δ`` as it is.
- PiSSA (Meng et al. 2024): ``B A = U_r S_r V_rᵀ`` split as ``B = U_r √S_r``,
  ``A = √S_r V_rᵀ``: the principal singular directions are trained and the residual
  ``W − U_r S_r V_rᵀ`` is frozen.
- Block-LoRA (paper 14): ``B`` is split into ``n`` column blocks ``B_i`` (out × r/n) that
  share one down-projection ``A`` (r/n × in): ``Δ = (α/r) Σ_i B_i A = (α/r) (Σ_i B_i) A``.
  The sum is a matrix addition, so one product of width r/n replaces LoRA's width r, and
  ``r/n · in`` parameters replace ``r · in``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lrkit.nn.adapters.base import AdapterLinear, kaiming_uniform, register_adapter, top_singular


class _Detached(torch.autograd.Function):
    """``y`` itself, attached to the graph through ``parameters`` that get no gradient."""

    @staticmethod
    def forward(ctx, y, *parameters):
        ctx.count = len(parameters)
        return y.view_as(y)

    @staticmethod
    def backward(ctx, grad):
        return (grad, *[None] * ctx.count)


@register_adapter
class LoRALinear(AdapterLinear):
    """``y = W x + b + (α/r) B (A x)`` (LoRA), optionally with CE-SSL's random deactivation
    of the whole adapter during training (``deactivation``, its probability per forward)."""

    kind = "lora"
    PEFT_FORM = "lora"
    OPTIONS = {"deactivation": 0.0}

    def build(self):
        p = self.options.get("deactivation", 0.0)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"deactivation must be in [0, 1); got {p}")
        self.lora_A = nn.Parameter(torch.zeros(self.rank, self.in_features))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, self.rank))
        self.coin = torch.Generator()  # the deactivation draws; seeded by initialize

    def initialize(self, W, generator):
        self.lora_A.copy_(kaiming_uniform(self.lora_A.shape, generator, self.lora_A))
        self.lora_B.zero_()
        if self.options.get("deactivation", 0.0) > 0:  # adapt(seed=...) seeds the coins too
            self.coin.manual_seed(int(torch.randint(0, 2**62, (), generator=generator)))

    def update(self, x):
        scale = self.scaling
        if self.training:
            scale = scale / (1.0 - self.options.get("deactivation", 0.0))
        return (x @ self.lora_A.T) @ self.lora_B.T * scale

    def forward(self, x):
        p = self.options.get("deactivation", 0.0)
        if self.training and p > 0 and float(torch.rand((), generator=self.coin)) < p:
            # switched off: no adapter products, and no gradient for the adapter (its
            # parameters keep grad None, so the optimizer skips them), but the output stays
            # on the graph, so a step in which every adapter is off can still backward()
            return _Detached.apply(F.linear(x, self.weight, self.bias), self.lora_A,
                                   self.lora_B)
        return super().forward(x)

    def delta(self):
        return self.scaling * self.lora_B @ self.lora_A

    def lora_factors(self):
        """``(B, A)`` with ``Δ = B A``, the scaling folded into ``B`` (for PEFT export)."""
        return self.scaling * self.lora_B.detach(), self.lora_A.detach()


@register_adapter
class PiSSALinear(LoRALinear):
    """LoRA initialised on the principal singular directions (PiSSA): the residual is frozen
    and ``B A`` starts at ``U_r S_r V_rᵀ`` (``alpha`` defaults to ``rank``: scaling 1)."""

    kind = "pissa"
    OPTIONS = {}  # no deactivation: switching the adapter off would drop the principal part

    def build(self):
        super().build()
        self.register_buffer("initial_A", torch.zeros(self.rank, self.in_features))
        self.register_buffer("initial_B", torch.zeros(self.out_features, self.rank))

    def initialize(self, W, generator):
        U, s, V = top_singular(W, self.rank)
        root = s.sqrt() / self.scaling ** 0.5
        self.lora_B.copy_(U * root)
        self.lora_A.copy_((V * root).T)
        self.initial_A.copy_(self.lora_A)
        self.initial_B.copy_(self.lora_B)

    def initial_delta(self):
        return self.scaling * self.initial_B @ self.initial_A

    def lora_factors(self):
        """``Δ − Δ₀ = [sB, −sB₀] [A; A₀]``: the change from the pretrained weight as a
        rank-2r LoRA (what PEFT stores for PiSSA)."""
        s = self.scaling
        B = torch.cat([s * self.lora_B.detach(), -s * self.initial_B], dim=1)
        return B, torch.cat([self.lora_A.detach(), self.initial_A], dim=0)


@register_adapter
class BlockLoRALinear(AdapterLinear):
    """Block-LoRA (paper 14): ``n = blocks`` up-projection blocks share one down-projection.

    ``rank`` is the total width of the up-projection (``n`` blocks of ``rank / n``);
    trainable parameters are ``rank/n · in + rank · out`` against LoRA's
    ``rank · (in + out)``. Every block receives the same gradient, so the blocks move
    together; the update's rank is at most ``rank / n``.
    """

    kind = "block_lora"
    OPTIONS = {"blocks": 4}

    def build(self):
        n = self.options["blocks"]
        if not isinstance(n, int) or n < 1 or self.rank % n:
            raise ValueError(f"blocks must be a positive divisor of rank={self.rank}; got {n}")
        width = self.rank // n
        self.lora_A = nn.Parameter(torch.zeros(width, self.in_features))
        self.lora_B = nn.Parameter(torch.zeros(n, self.out_features, width))

    def initialize(self, W, generator):
        self.lora_A.copy_(kaiming_uniform(self.lora_A.shape, generator, self.lora_A))
        self.lora_B.zero_()

    def update(self, x):
        return (x @ self.lora_A.T) @ self.lora_B.sum(0).T * self.scaling

    def delta(self):
        return self.scaling * self.lora_B.sum(0) @ self.lora_A

    PEFT_FORM = "lora"

    def lora_factors(self):
        """``(s Σᵢ Bᵢ, A)``: the blocks summed, a LoRA of rank ``rank / blocks``."""
        return self.scaling * self.lora_B.detach().sum(0), self.lora_A.detach()
