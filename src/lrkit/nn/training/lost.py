"""LOST (paper 29): a low-rank part from the top singular directions of the starting
weight, and a channel-sparse part from its complement.

``W = B A + C[:, K]`` placed in the input channels ``K``: ``B A`` is the top-``r`` part of
the starting ``W₀``; the ``sparsity · in`` channels (columns) of the residual
``W₀ − B A`` with the largest norms are kept as a trainable dense block. Parameters:
``r (in + out) + out · |K|``.
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit.nn.training.base import TrainingLinear, serializable, top_factors


@serializable
class LOSTLinear(TrainingLinear):
    """Top-``r`` singular part plus the strongest residual input channels."""

    kind = "lost"
    OPTIONS = {"sparsity": 0.05}

    def build(self):
        channels = max(1, round(self.options["sparsity"] * self.in_features))
        self.B = nn.Parameter(torch.zeros(self.out_features, self.rank))
        self.A = nn.Parameter(torch.zeros(self.rank, self.in_features))
        self.columns = nn.Parameter(torch.zeros(self.out_features, channels))
        self.register_buffer("channels", torch.zeros(channels, dtype=torch.long))

    def initialize(self, weight, generator):
        B, A = top_factors(weight, self.rank)
        self.B.copy_(B)
        self.A.copy_(A)
        residual = weight - B @ A
        strongest = torch.topk(residual.norm(dim=0), self.channels.numel()).indices.sort()
        self.channels.copy_(strongest.values)
        self.columns.copy_(residual[:, strongest.values])

    @property
    def weight(self):
        low_rank = self.B @ self.A
        return low_rank.index_add(1, self.channels, self.columns)
