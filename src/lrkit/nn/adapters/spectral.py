"""Adapters that train singular values of the pretrained weight: SVFit and SALT.

Both start from the top-``r`` singular triplets of ``W = U S Vᵀ`` (kept as frozen
buffers ``U`` (out × r), ``V`` (in × r) and ``sigma0``); the rest of ``W`` is the frozen
base ``W − U_r S_r V_rᵀ``.

- SVFit (paper 11): the ``r`` singular values are the only trainable parameters,
  ``Δ = U_r diag(σ) V_rᵀ`` with ``σ`` starting at ``S_r`` (``r`` parameters a layer).
- SALT (paper 27): a scale and a shift of each of the top-``r`` singular values,
  ``σ = α ⊙ S_r + β`` (``α = 1``, ``β = 0`` at start), plus a LoRA update of rank
  ``lora_rank`` confined to the remaining subspace,
  ``(I − U_r U_rᵀ) B A (I − V_r V_rᵀ)`` (``B = 0`` at start).
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit.nn.adapters.base import AdapterLinear, kaiming_uniform, register_adapter, top_singular


class _SingularValueAdapter(AdapterLinear):
    """Shared part: the frozen top-``r`` singular vectors and values.

    The singular vectors are not saved (they are most of the bytes: 1.38 MB against 1 066
    trained values for SVFit on MiniLM); loading recomputes them from the base model and
    checks the recomputed singular values against the saved ``sigma0``, so an adapter put
    on another base model is refused. A sign flip of a pair ``(u_i, v_i)`` changes nothing:
    every use is ``u_i σ v_iᵀ`` or a projection."""

    REBUILT = ("U", "V")

    def build(self):
        self.register_buffer("U", torch.zeros(self.out_features, self.rank))
        self.register_buffer("V", torch.zeros(self.in_features, self.rank))
        self.register_buffer("sigma0", torch.zeros(self.rank))

    def initialize(self, W, generator):
        U, s, V = top_singular(W, self.rank)
        self.U.copy_(U)
        self.V.copy_(V)
        self.sigma0.copy_(s)

    def rebuild(self, W):
        U, s, V = top_singular(W, self.rank)
        saved = self.sigma0.to(s.dtype)
        if not torch.allclose(s, saved, rtol=0, atol=1e-3 * float(s[0])):
            raise ValueError("the base layer's top singular values differ from the ones the "
                             f"adapter was trained on ({float(s[0]):.4g} against "
                             f"{float(saved[0]):.4g} first): load it onto its own base model")
        self.U.copy_(U)
        self.V.copy_(V)

    def singular_values(self):
        raise NotImplementedError

    def initial_delta(self):
        return (self.U * self.sigma0) @ self.V.T

    def update(self, x):
        return ((x @ self.V) * self.singular_values()) @ self.U.T

    def delta(self):
        return (self.U * self.singular_values()) @ self.V.T

    PEFT_FORM = "delta"

    def lora_factors(self):
        """``(U diag(σ − σ₀), Vᵀ)``: the change of the top singular values, rank ``r``."""
        change = (self.singular_values() - self.sigma0).detach()
        return self.U * change, self.V.T.clone()


@register_adapter
class SVFitLinear(_SingularValueAdapter):
    """SVFit: train only the top-``r`` singular values (``r`` parameters a layer)."""

    kind = "svfit"

    def build(self):
        super().build()
        self.sigma = nn.Parameter(torch.zeros(self.rank))

    def initialize(self, W, generator):
        super().initialize(W, generator)
        self.sigma.copy_(self.sigma0)

    def singular_values(self):
        return self.sigma


@register_adapter
class SALTLinear(_SingularValueAdapter):
    """SALT: scale and shift of the top-``r`` singular values plus a LoRA of rank
    ``lora_rank`` (default ``rank``) on the complementary subspaces, scaled by ``α / rank``."""

    kind = "salt"
    OPTIONS = {"lora_rank": None}

    def build(self):
        super().build()
        lora_rank = self.options["lora_rank"]
        lora_rank = self.rank if lora_rank is None else lora_rank
        limit = min(self.in_features, self.out_features) - self.rank
        if not isinstance(lora_rank, int) or not 0 <= lora_rank <= limit:
            raise ValueError(f"lora_rank must be an integer in [0, min(in, out) - rank = "
                             f"{limit}]; got {lora_rank}")
        self.options["lora_rank"] = lora_rank
        self.scale = nn.Parameter(torch.ones(self.rank))
        self.shift = nn.Parameter(torch.zeros(self.rank))
        self.lora_A = nn.Parameter(torch.zeros(lora_rank, self.in_features))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, lora_rank))

    def initialize(self, W, generator):
        super().initialize(W, generator)
        self.scale.fill_(1.0)
        self.shift.zero_()
        self.lora_A.copy_(kaiming_uniform(self.lora_A.shape, generator, self.lora_A))
        self.lora_B.zero_()

    def singular_values(self):
        return self.scale * self.sigma0 + self.shift

    def update(self, x):
        top = super().update(x)
        z = x - (x @ self.V) @ self.V.T
        h = (z @ self.lora_A.T) @ self.lora_B.T * self.scaling
        return top + h - (h @ self.U) @ self.U.T

    def delta(self):
        P_out = torch.eye(self.out_features, dtype=self.U.dtype, device=self.U.device)
        P_out = P_out - self.U @ self.U.T
        P_in = torch.eye(self.in_features, dtype=self.V.dtype, device=self.V.device)
        P_in = P_in - self.V @ self.V.T
        low_rank = P_out @ (self.scaling * self.lora_B @ self.lora_A) @ P_in
        return super().delta() + low_rank

    def lora_factors(self):
        """``[U diag(σ − σ₀), P_out s B] [Vᵀ; A P_in]``: the singular-value change and the
        confined LoRA side by side, rank ``r + lora_rank``."""
        B_top, A_top = super().lora_factors()
        B = self.scaling * self.lora_B.detach()
        A = self.lora_A.detach()
        B = B - self.U @ (self.U.T @ B)
        A = A - (A @ self.V) @ self.V.T
        return torch.cat([B_top, B], dim=1), torch.cat([A_top, A], dim=0)
