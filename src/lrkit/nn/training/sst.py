"""Sparse Spectral Training (paper 30; Zhao et al. 2024): the full spectrum
``W = U diag(s) Vᵀ`` of every layer, all singular values trained, and ``r`` singular-vector
pairs at a time, drawn with probability ∝ ``s``.

The layer keeps the whole SVD (``k = min(in, out)`` pairs, so it is full rank, unlike a
rank-``r`` factorisation) and trains ``s`` (``k`` values) and the ``r`` active pairs
``U[:, I]``, ``V[:, I]``; the other pairs are frozen buffers. The trainable parameters are
``r (in + out) + k``. The update rule of a round:

- every step: AdamW on ``s`` and on the active ``U_I``, ``V_I``;
- every few steps (:meth:`SSTLinear.resample`, through :func:`lrkit.nn.resample`): the
  active pairs are written back and ``r`` new indices drawn without replacement from the
  multinomial with weights ``|s|`` (exploitation of the strong directions, exploration of
  the rest); the optimizer state of the vectors is restarted;
- every few hundred steps (:meth:`SSTLinear.reorthogonalize`): ``U = Q_U R_U``,
  ``V = Q_V R_V``, ``R_U diag(s) R_Vᵀ = P Σ Qᵀ``, then ``U ← Q_U P``, ``s ← Σ``,
  ``V ← Q_V Q`` (the paper's periodic re-SVD: the same ``W``, orthonormal vectors again).

Initialised from the dense weight by its SVD, the layer starts with exactly that weight (the
paper's zero distortion).
"""

from __future__ import annotations

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
    def weight(self):
        U = self.U_all.index_copy(1, self.active, self.U)  # the active pairs spliced in
        V = self.V_all.index_copy(1, self.active, self.V)
        return (U * self.s) @ V.T

    @torch.no_grad()
    def resample(self, generator=None):
        """Write the active pairs back and activate ``rank`` pairs drawn ∝ ``|s|``.

        ``W`` is unchanged; the caller restarts the optimizer state of ``U`` and ``V``."""
        self._write_back()
        weights = (self.s.abs() + 1e-12).float().cpu()
        self._activate(torch.multinomial(weights, self.rank, replacement=False,
                                         generator=generator).to(self.active.device))

    @torch.no_grad()
    def reorthogonalize(self):
        """Orthonormal singular vectors again (the re-SVD), the same ``W``; the top ``rank``
        pairs are active afterwards."""
        self._write_back()
        Qu, Ru = torch.linalg.qr(self.U_all)
        Qv, Rv = torch.linalg.qr(self.V_all)
        P, sigma, Qh = torch.linalg.svd((Ru * self.s) @ Rv.T)
        self.U_all.copy_(Qu @ P)
        self.s.copy_(sigma)
        self.V_all.copy_(Qv @ Qh.T)
        self._activate(torch.arange(self.rank, device=self.active.device))

    def _write_back(self):
        self.U_all[:, self.active] = self.U
        self.V_all[:, self.active] = self.V

    def _activate(self, indices):
        self.active.copy_(indices)
        self.U.copy_(self.U_all[:, indices])
        self.V.copy_(self.V_all[:, indices])
