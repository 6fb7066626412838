"""Sparse Spectral Training (paper 30): ``W = U diag(s) Vᵀ`` with every singular value
trained and only a sampled few singular vectors updated per step.

At each training forward, ``⌈update_fraction · r⌉`` indices are drawn without replacement
with probability ∝ ``s``; the gradients of the other columns of ``U`` and ``V`` are zeroed
for that step (``s`` always gets its full gradient). :meth:`SSTLinear.reorthogonalize`
(call it every few hundred steps, e.g. through :func:`lrkit.nn.reorthogonalize`) restores
orthonormal ``U``, ``V``: ``U = Q_U R_U``, ``V = Q_V R_V``, ``R_U diag(s) R_Vᵀ = P Σ Qᵀ``,
then ``U ← Q_U P``, ``s ← Σ``, ``V ← Q_V Q``. Parameters: ``r (in + out + 1)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lrkit.nn.training.base import TrainingLinear, serializable


@serializable
class SSTLinear(TrainingLinear):
    """Singular values always trained; singular vectors sampled by singular-value weight."""

    kind = "sst"
    OPTIONS = {"update_fraction": 0.25}

    def build(self):
        self.U = nn.Parameter(torch.zeros(self.out_features, self.rank))
        self.s = nn.Parameter(torch.zeros(self.rank))
        self.V = nn.Parameter(torch.zeros(self.in_features, self.rank))
        self.register_buffer("selected", torch.ones(self.rank))
        self.U.register_hook(lambda grad: grad * self.selected)
        self.V.register_hook(lambda grad: grad * self.selected)

    def initialize(self, weight, generator):
        U, s, Vh = torch.linalg.svd(weight, full_matrices=False)
        self.U.copy_(U[:, :self.rank])
        self.s.copy_(s[:self.rank])
        self.V.copy_(Vh[:self.rank].T)

    @property
    def weight(self):
        return (self.U * self.s) @ self.V.T

    def forward(self, x):
        if self.training and torch.is_grad_enabled():
            count = max(1, math.ceil(self.options["update_fraction"] * self.rank))
            weights = self.s.detach().abs() + 1e-12
            chosen = torch.multinomial(weights, count, replacement=False)
            self.selected.zero_()
            self.selected[chosen] = 1.0
        return super().forward(x)

    @torch.no_grad()
    def reorthogonalize(self):
        """Orthonormal ``U`` and ``V`` again, the same ``W``."""
        Qu, Ru = torch.linalg.qr(self.U)
        Qv, Rv = torch.linalg.qr(self.V)
        P, sigma, Qh = torch.linalg.svd((Ru * self.s) @ Rv.T)
        self.U.copy_(Qu @ P)
        self.s.copy_(sigma)
        self.V.copy_(Qv @ Qh.T)
