"""Plain low-rank training: ``W = B A`` with both factors trained, the baseline that the
sparse, spectral and ordered methods improve on. Initialised from the top-``r`` part of
the starting weight. Parameters: ``r (in + out)``."""

from __future__ import annotations

import torch
from torch import nn

from lrkit.nn.training.base import TrainingLinear, serializable, top_factors


@serializable
class FactoredLinear(TrainingLinear):
    """``W = B A``, trained as two factors."""

    kind = "lowrank"

    def build(self):
        self.B = nn.Parameter(torch.zeros(self.out_features, self.rank))
        self.A = nn.Parameter(torch.zeros(self.rank, self.in_features))

    def initialize(self, weight, generator):
        B, A = top_factors(weight, self.rank)
        self.B.copy_(B)
        self.A.copy_(A)

    @property
    def weight(self):
        return self.B @ self.A

    def forward(self, x):
        return nn.functional.linear(nn.functional.linear(x, self.A), self.B, self.bias)
