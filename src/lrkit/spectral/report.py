"""``analyze``: every spectral diagnostic of one matrix in one dataclass."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from lrkit._validation import as_real_matrix
from lrkit.approx.rank import noise_from_median
from lrkit.spectral.metrics import (
    effective_rank_of_values,
    entropy_of_values,
    marchenko_pastur_edge,
    nuclear_norm_metric,
    stable_rank_of_values,
)
from lrkit.spectral.powerlaw import farms_esd, fit_power_law


@dataclass
class SpectralReport:
    """Diagnostics of a weight matrix W (n1 × n2).

    Attributes
    ----------
    shape : tuple
    alpha, alpha_xmin, alpha_ks : float
        Power-law fit of the ESD (eigenvalues of WᵀW), its xmin and KS distance.
    farms_alpha : float
        The same fit on the FARMS-pooled ESD of square submatrices (NaN if W is too small).
    stable_rank, effective_rank, entropy : float
    mp_edge : float
        Marchenko–Pastur bulk edge of the singular values, ``σ̂ (√n1 + √n2)`` with σ̂ from the
        median singular value.
    n_outliers : int
        Singular values above ``mp_edge`` (signal directions).
    nuclear_norm_metric : float
        Li et al.'s L_{1,2} nuclear-norm metric of W read as L = n1 rows of d = n2 features.
    spectral_norm, frobenius_norm : float
    singular_values : numpy.ndarray
    """

    shape: tuple
    alpha: float
    alpha_xmin: float
    alpha_ks: float
    farms_alpha: float
    stable_rank: float
    effective_rank: float
    entropy: float
    mp_edge: float
    n_outliers: int
    nuclear_norm_metric: float
    spectral_norm: float
    frobenius_norm: float
    singular_values: np.ndarray = field(repr=False)

    def as_dict(self):
        """Scalar fields only, for tables."""
        out = asdict(self)
        del out["singular_values"]
        return out


def analyze(W, xmin_rule="ks", farms_xmin_rule="median") -> SpectralReport:
    """All spectral diagnostics of ``W`` (one SVD, plus the FARMS windows).

    ``xmin_rule`` is passed to :func:`~lrkit.spectral.fit_power_law` for ``alpha``: ``"ks"``
    (default, WeightWatcher's rule), ``"peak"`` (search near the log-histogram peak) or
    ``"median"`` (fixed xmin, the stable choice when comparing matrices of different
    shapes). ``farms_xmin_rule`` is the rule for ``farms_alpha``; its default ``"median"``
    is the one under which FARMS removes the aspect-ratio bias (under ``"ks"`` the windowed
    fit is *more* biased than the plain one: see :func:`~lrkit.spectral.farms_alpha`).
    """
    W = as_real_matrix("W", W, sparse="pass W.toarray() (a spectrum needs every singular "
                       "value)")
    if min(W.shape) < 2:
        raise ValueError(f"W must have at least 2 rows and columns; got shape {W.shape}")
    s = np.linalg.svd(W, compute_uv=False)
    eigenvalues = s**2
    fit = fit_power_law(eigenvalues, xmin_rule=xmin_rule)
    try:
        farms = fit_power_law(farms_esd(W), xmin_rule=farms_xmin_rule).alpha
    except ValueError:
        farms = math.nan
    edge = marchenko_pastur_edge(W.shape, noise_from_median(s, W.shape))
    return SpectralReport(
        shape=tuple(W.shape),
        alpha=fit.alpha,
        alpha_xmin=fit.xmin,
        alpha_ks=fit.ks_distance,
        farms_alpha=farms,
        stable_rank=stable_rank_of_values(s),
        effective_rank=effective_rank_of_values(s),
        entropy=entropy_of_values(s),
        mp_edge=float(edge),
        n_outliers=int(np.count_nonzero(s > edge)),
        nuclear_norm_metric=nuclear_norm_metric(W),
        spectral_norm=float(s[0]),
        frobenius_norm=float(math.sqrt(eigenvalues.sum())),
        singular_values=s,
    )
