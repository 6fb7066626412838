"""Sparse Spectral Training (paper 30; Zhao et al. 2024): the full spectrum
``W = U diag(s) Vᵀ`` of every layer, all singular values trained, and ``r`` singular-vector
pairs at a time, drawn by singular-value weight.

The layer keeps the whole SVD (``k = min(in, out)`` pairs, so it is full rank, unlike a
rank-``r`` factorisation) and trains ``s`` (``k`` values) and the ``r`` active pairs
``U[:, I]``, ``V[:, I]``; the other pairs are frozen buffers. The trainable parameters are
``r (in + out) + k``. The update rule of a round:

- every step: AdamW on ``s`` and on the active ``U_I``, ``V_I``, the vectors with the
  paper's *enhanced gradient* ``∂L/∂U_i = (∂L/∂W) V_i`` and ``∂L/∂V_i = (∂L/∂W)ᵀ U_i``
  (without the factor ``s_i``, which would starve the small singular values' vectors);
  the active vectors enter ``W`` as unit vectors ``U_i / ‖U_i‖`` (the paper's singular
  vectors are unit; the magnitude lives in ``s`` alone), so each gets the tangent part of
  its gradient and the growth of its norm under Adam's per-coordinate steps never reaches
  ``W``;
- every iteration of ``T`` steps (:meth:`SSTLinear.resample`, through
  :func:`lrkit.nn.resample`): the active pairs are written back as those unit vectors (so
  ``W`` is unchanged) and ``r`` new indices drawn without replacement with
  ``p(i) = ½ (1/k + |s_i| / Σ_j |s_j|)`` (exploitation of the strong directions,
  exploration of all); the optimizer state of the vectors is restarted;
- after a round of ``⌈k / r⌉`` iterations (:attr:`SSTLinear.iterations_per_round`,
  :meth:`SSTLinear.reorthogonalize`): ``U = Q_U R_U``, ``V = Q_V R_V``,
  ``R_U diag(s) R_Vᵀ = P Σ Qᵀ``, then ``U ← Q_U P``, ``s ← Σ``, ``V ← Q_V Q`` (the
  paper's periodic re-SVD: the same ``W``, orthonormal vectors again), and the next
  round's first draw.

Initialised from the dense weight by its SVD, the layer starts with exactly that weight (the
paper's zero distortion).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lrkit.nn.training.base import TrainingLinear, serializable


@serializable
class SSTLinear(TrainingLinear):
    """Full spectrum; singular values always trained, ``rank`` vector pairs at a time."""

    kind = "sst"

    def build(self):
        k = min(self.in_features, self.out_features)
        self.register_buffer("U_all", torch.zeros(self.out_features, k))
        self.register_buffer("V_all", torch.zeros(self.in_features, k))
        self.register_buffer("active", torch.arange(self.rank))
        self.s = nn.Parameter(torch.zeros(k))
        self.U = nn.Parameter(torch.zeros(self.out_features, self.rank))
        self.V = nn.Parameter(torch.zeros(self.in_features, self.rank))

    def initialize(self, weight, generator):
        U, s, Vh = torch.linalg.svd(weight, full_matrices=False)
        self.U_all.copy_(U)
        self.s.copy_(s)
        self.V_all.copy_(Vh.T)
        self._activate(torch.arange(self.rank, device=s.device))

    @property
    def iterations_per_round(self):
        """Draws in a round, after which the paper re-SVDs: ``⌈k / r⌉``."""
        return math.ceil(self.s.numel() / self.rank)

    @property
    def weight(self):
        # The enhanced gradient: the active vectors' gradients divided by their s_i.
        magnitude = self.s.detach().abs()
        scale = torch.maximum(magnitude[self.active], _TINY * magnitude.max().clamp_min(1e-30))
        U = self.U_all.index_copy(1, self.active, _unit(_ScaledGradient.apply(self.U, 1 / scale)))
        V = self.V_all.index_copy(1, self.active, _unit(_ScaledGradient.apply(self.V, 1 / scale)))
        return (U * self.s) @ V.T  # the active pairs spliced into the stored spectrum

    @torch.no_grad()
    def resample(self, generator=None):
        """Write the active pairs back and activate ``rank`` pairs drawn without replacement
        with ``p(i) = ½ (1/k + |s_i| / Σ_j |s_j|)``.

        ``W`` is unchanged; the caller restarts the optimizer state of ``U`` and ``V``."""
        self._write_back()
        self._draw(generator)

    @torch.no_grad()
    def reorthogonalize(self, generator=None):
        """Orthonormal singular vectors again (the re-SVD), the same ``W``; then the round's
        first draw, as :meth:`resample` draws.

        Activating the top ``rank`` pairs instead (all the largest singular values' vectors
        restarting Adam at once) threw the benchmark's training loss from 1.83 to 3.19 in
        the steps after the re-SVD."""
        self._write_back()
        Qu, Ru = torch.linalg.qr(self.U_all)
        Qv, Rv = torch.linalg.qr(self.V_all)
        P, sigma, Qh = torch.linalg.svd((Ru * self.s) @ Rv.T)
        self.U_all.copy_(Qu @ P)
        self.s.copy_(sigma)
        self.V_all.copy_(Qv @ Qh.T)
        self._draw(generator)

    def _draw(self, generator):
        """Activate ``rank`` pairs drawn without replacement by ``p(i)``."""
        magnitude = self.s.abs().float().cpu()
        weights = 0.5 * (1 / magnitude.numel() + magnitude / magnitude.sum().clamp_min(1e-30))
        self._activate(torch.multinomial(weights, self.rank, replacement=False,
                                         generator=generator).to(self.active.device))

    def _write_back(self):
        """The active pairs back into the spectrum, as the unit vectors ``W`` uses."""
        self.U_all[:, self.active] = _unit(self.U)
        self.V_all[:, self.active] = _unit(self.V)

    def _activate(self, indices):
        self.active.copy_(indices)
        self.U.copy_(self.U_all[:, indices])
        self.V.copy_(self.V_all[:, indices])


#: Singular values below this share of the largest scale their vectors' gradients as if
#: they were this large (the enhanced gradient's ``1 / s_i`` stays bounded).
_TINY = 1e-3


def _unit(columns):
    """``columns`` scaled to unit norm (differentiably: the gradient is the tangent part)."""
    return columns / columns.norm(dim=0).clamp_min(1e-30)


class _ScaledGradient(torch.autograd.Function):
    """The identity forward; the backward multiplies the gradient by ``scale`` (columns)."""

    @staticmethod
    def forward(ctx, tensor, scale):
        ctx.save_for_backward(scale)
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad):
        (scale,) = ctx.saved_tensors
        return grad * scale, None
