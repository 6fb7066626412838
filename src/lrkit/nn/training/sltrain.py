"""SLTrain (Han et al. 2024, paper 20): ``W = (α / r) B A + S``, trained from scratch.

``S`` lives on a fixed random support of ``sparsity · in · out`` entries, drawn once and
stored as flat indices; only its values train. Parameters: ``r (in + out) + nnz(S)``.
Initialisation: ``B A`` from the layer's starting weight (its top-``r`` part, ``α = r``),
``S`` uniform with ``nn.Linear``'s bound on its support.
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit.nn.training.base import TrainingLinear, linear_bound, serializable, top_factors, uniform_


@serializable
class SLTrainLinear(TrainingLinear):
    """Low-rank factors plus a sparse matrix on a fixed random support."""

    kind = "sltrain"
    OPTIONS = {"sparsity": 0.03}

    def build(self):
        size = self.in_features * self.out_features
        count = max(1, round(self.options["sparsity"] * size))
        self.B = nn.Parameter(torch.zeros(self.out_features, self.rank))
        self.A = nn.Parameter(torch.zeros(self.rank, self.in_features))
        self.values = nn.Parameter(torch.zeros(count))
        self.register_buffer("support", torch.zeros(count, dtype=torch.long))

    def initialize(self, weight, generator):
        B, A = top_factors(weight, self.rank)
        self.B.copy_(B)
        self.A.copy_(A)
        size = self.in_features * self.out_features
        self.support.copy_(torch.randperm(size, generator=generator)[:self.values.numel()]
                           .sort().values)
        uniform_(self.values, linear_bound(self.in_features), generator)

    @property
    def weight(self):
        sparse = torch.zeros(self.out_features * self.in_features, device=self.values.device,
                             dtype=self.values.dtype)
        sparse = sparse.index_put((self.support,), self.values)
        return self.B @ self.A + sparse.view(self.out_features, self.in_features)
