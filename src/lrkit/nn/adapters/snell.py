"""SNELL (papers 21 and 45): sparse tuning through a kernelised low-rank merge.

Two low-rank factors ``B`` (out × r) and ``A`` (in × r) are merged by a non-linear kernel
applied to every pair of rows, ``Δ_ij = κ(B_i, A_j)``, instead of LoRA's inner product
``B_i · A_j``. A non-linear kernel lifts the rank of the merged matrix beyond ``r`` (its
feature map lives in a higher dimension) at LoRA's memory. The merged matrix is then
sparsified by competition: only the ``density`` fraction of entries with the largest
magnitude is kept, a threshold recomputed from the values at every step, so no index of
tunable weights is ever stored.

Kernels (all vanish at ``B = 0``, so training starts at the pretrained function):

- ``"piecewise"`` (default): ``κ(b, a) = t + γ|t|`` with ``t = b · a`` and ``γ = 1/2``, a
  piecewise-linear function of the inner product, non-linear at every scale;
- ``"polynomial"``: ``κ(b, a) = t + t² / c`` (``c = 1``);
- ``"linear"``: ``κ(b, a) = t`` (plain LoRA followed by the sparsification).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from lrkit.nn.adapters.base import AdapterLinear, kaiming_uniform, register_adapter

KERNELS = {
    "piecewise": lambda t: t + 0.5 * t.abs(),
    "polynomial": lambda t: t + t * t,
    "linear": lambda t: t,
}


@register_adapter
class SNELLLinear(AdapterLinear):
    """``y = W x + b + (M ⊙ κ(B, A)) x``: a kernelised merge of two rank-``r`` factors,
    sparsified to its ``density`` largest-magnitude entries (mask ``M``); the density is
    one per layer under SNELLA's allocation (:class:`~lrkit.nn.SparsityAllocator`)."""

    kind = "snell"
    OPTIONS = {"kernel": "piecewise", "density": 0.1}

    def build(self):
        if self.options["kernel"] not in KERNELS:
            raise ValueError(f"kernel must be one of {sorted(KERNELS)}; "
                             f"got {self.options['kernel']!r}")
        density = self.options["density"]
        if not 0.0 < density <= 1.0:
            raise ValueError(f"density must be in (0, 1]; got {density}")
        self.lora_A = nn.Parameter(torch.zeros(self.in_features, self.rank))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, self.rank))
        # The fraction kept, a buffer so that a per-layer allocation (SNELLA) is saved.
        self.register_buffer("density", torch.tensor(float(density)))

    def set_density(self, density):
        """Keep the ``density`` largest-magnitude entries from now on (SNELLA's allocation
        sets one per layer; 0 switches the layer's update off)."""
        if not 0.0 <= density <= 1.0:
            raise ValueError(f"density must be in [0, 1]; got {density}")
        self.density.fill_(density)

    def initialize(self, W, generator):
        self.lora_A.copy_(kaiming_uniform(self.lora_A.shape, generator, self.lora_A))
        self.lora_B.zero_()

    def merged(self):
        """The kernelised merge ``κ(B, A)`` before sparsification (out × in)."""
        return self.scaling * KERNELS[self.options["kernel"]](self.lora_B @ self.lora_A.T)

    def delta(self):
        full = self.merged()
        keep = int(round(float(self.density) * full.numel()))
        if keep >= full.numel():
            return full
        if keep == 0:
            return full * 0.0
        magnitude = full.detach().abs().flatten()
        threshold = torch.kthvalue(magnitude, magnitude.numel() - keep + 1).values
        return full * (full.detach().abs() >= threshold)

    def update(self, x):
        return F.linear(x, self.delta())
