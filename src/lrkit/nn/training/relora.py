"""LoRA trained from scratch and ReLoRA*: the low-rank baselines of Sparse Spectral Training
(paper 30, its section 3; ReLoRA: Lialin et al. 2024).

``W = W₀ + B A`` with ``W₀`` the layer's starting weight, frozen (a buffer), and ``B A`` the
trained rank-``r`` part, LoRA's initialisation: ``B = 0``, ``A`` Kaiming-uniform, so the layer
starts at exactly ``W₀`` (``α = r``: no extra scale, the learning rate sets the step).
Parameters: ``r (in + out)``.

- LoRA: the layer as it is; ``W₀`` a random initialisation stays in the weight and only a
  rank-``r`` change of it is ever learned.
- ReLoRA* (:meth:`ReLoRALinear.merge`, through :func:`lrkit.nn.merge_and_restart`, every
  iteration of ``T`` steps): ``W₀ ← W₀ + B A``, then ``B ← 0`` and ``A`` drawn anew, and the
  optimizer state of ``A`` and ``B`` restarted. ``W`` is unchanged by a merge; the sum of
  the iterations' rank-``r`` changes can reach full rank. (SST's paper names it ReLoRA*:
  ReLoRA without its initial full-rank warm start, so that the whole run saves memory.)
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit.nn.adapters.base import kaiming_uniform
from lrkit.nn.training.base import TrainingLinear, serializable


@serializable
class ReLoRALinear(TrainingLinear):
    """A frozen starting weight plus a trained ``B A`` that :meth:`merge` folds into it."""

    kind = "relora"

    def build(self):
        self.register_buffer("base", torch.zeros(self.out_features, self.in_features))
        self.B = nn.Parameter(torch.zeros(self.out_features, self.rank))
        self.A = nn.Parameter(torch.zeros(self.rank, self.in_features))

    def initialize(self, weight, generator):
        self.base.copy_(weight)
        self._restart(generator)

    @property
    def weight(self):
        return self.base + self.B @ self.A

    def forward(self, x):
        low_rank = nn.functional.linear(nn.functional.linear(x, self.A), self.B)
        return nn.functional.linear(x, self.base, self.bias) + low_rank

    @torch.no_grad()
    def merge(self, generator=None):
        """``W₀ ← W₀ + B A``, ``B ← 0``, ``A`` Kaiming-uniform from ``generator``: the same
        ``W``, a fresh rank-``r`` change to learn. The caller restarts the optimizer state
        of ``A`` and ``B``."""
        self.base.add_(self.B @ self.A)
        self._restart(generator)

    def _restart(self, generator):
        self.A.copy_(kaiming_uniform(self.A.shape, generator, self.A))
        self.B.zero_()
