"""The whitening factor of an input covariance: ``S Sᵀ = C (+ δ I)``, the Cholesky factor
SVD-LLM's whitened truncation uses (paper 12), with a bounded diagonal loading when ``C`` is
singular."""

from __future__ import annotations

import torch

#: Relative diagonal loading tried first when C is not positive definite (×10 per retry).
LOADING = 1e-6
#: Loadings tried: LOADING · 10^k · trace(C)/n for k = 0 .. MAX_LOADINGS − 1.
MAX_LOADINGS = 12


def cholesky_factor(C):
    """Lower-triangular ``S`` with ``S Sᵀ = C + δ I``; δ = 0 when C is positive definite.

    A singular C (fewer tokens than inputs, dead channels) gets the smallest relative
    loading ``δ = LOADING · 10^k · trace(C)/n`` that makes the factorisation succeed, which
    keeps the whitening well defined and barely changes the well-excited directions. The
    search is bounded; a C with NaN or inf is refused.
    """
    if not torch.isfinite(C).all():
        raise ValueError("the input covariance contains NaN or inf: the calibration "
                         "activations overflowed or the batches hold non-finite values")
    S, info = torch.linalg.cholesky_ex(C)
    scale = float(torch.trace(C)) / C.shape[0] or 1.0
    eye = torch.eye(C.shape[0], dtype=C.dtype, device=C.device)
    for k in range(MAX_LOADINGS):
        if int(info) == 0:
            return S
        S, info = torch.linalg.cholesky_ex(C + LOADING * 10**k * scale * eye)
    if int(info) == 0:
        return S
    raise ValueError(f"the input covariance is not positive semi-definite even with a "
                     f"loading of {LOADING * 10 ** (MAX_LOADINGS - 1):g} · trace/n")
