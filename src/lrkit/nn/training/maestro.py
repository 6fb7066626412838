"""Maestro (paper 26): ordered dropout over rank-1 components, so that every truncation
``W_k = Σ_{i<=k} b_i a_iᵀ`` is a good layer.

At each training forward a rank ``k`` is drawn uniformly from ``1..r`` and only the first
``k`` components are used, which orders them by importance; in evaluation the layer uses
``eval_rank`` components (all by default; see :func:`lrkit.nn.truncate`). Initialised from
the top-``r`` singular part of the starting weight. Parameters: ``r (in + out)``.
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit.nn.training.base import serializable
from lrkit.nn.training.plain import FactoredLinear


@serializable
class MaestroLinear(FactoredLinear):
    """``B A`` whose rank-1 components are trained under ordered dropout."""

    kind = "maestro"

    def build(self):
        super().build()
        self.eval_rank = self.rank

    def active_rank(self):
        if self.training and torch.is_grad_enabled():
            return int(torch.randint(1, self.rank + 1, ()))
        return self.eval_rank

    @property
    def weight(self):
        return self.B[:, :self.eval_rank] @ self.A[:self.eval_rank]

    def forward(self, x):
        k = self.active_rank()
        return nn.functional.linear(nn.functional.linear(x, self.A[:k]), self.B[:, :k],
                                    self.bias)
