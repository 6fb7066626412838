"""Seeded matrix-sensing problems: low-rank truth, Gaussian or rank-one design, noise, outliers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_choice, check_int, check_rank, check_real
from lrkit.operators import GaussianSensing, RankOneSensing
from lrkit.operators.base import check_fits


@dataclass
class SensingProblem:
    """A measurement operator, its (possibly corrupted) data and the ground truth.

    Attributes
    ----------
    operator : SensingOperator
    y : numpy.ndarray, shape (m,)
        Measurements ``A(M*) + noise``, with ``outlier_mask`` entries replaced by outliers.
    truth : numpy.ndarray, shape (n1, n2)
        The rank-``rank`` ground truth ``M*``.
    rank : int
    outlier_mask : numpy.ndarray of bool, shape (m,)
    """

    operator: object
    y: np.ndarray
    truth: np.ndarray
    rank: int
    outlier_mask: np.ndarray


def low_rank_matrix(n1, n2, rank, cond=1.0, symmetric=False, seed=None):
    """``U diag(s) Vᵀ`` with Haar-random orthonormal U, V and singular values geometrically
    spaced from 1 down to ``1/cond`` (``V = U`` and PSD when ``symmetric``).

    The dense truth counts against the memory budget
    (:func:`lrkit.operators.set_memory_budget`): a size beyond it is an
    :class:`~lrkit.OperatorTooLargeError` before anything is allocated.
    """
    n1, n2 = check_int("n1", n1, 1), check_int("n2", n2, 1)
    rank = check_rank(rank, (n1, n2))
    cond = check_real("cond", cond, low=1.0)
    if symmetric and n1 != n2:
        raise ValueError(f"symmetric=True needs n1 == n2; got {n1} and {n2}")
    check_fits(f"the dense {n1}x{n2} ground truth", 8 * n1 * n2, None,
               "Generate a smaller problem, or raise the budget if the memory is there.")
    rng = as_generator(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n1, rank)))
    V = U if symmetric else np.linalg.qr(rng.standard_normal((n2, rank)))[0]
    s = np.geomspace(1.0, 1.0 / cond, rank)
    return (U * s) @ V.T


def sensing(
    n1,
    n2,
    rank,
    m,
    *,
    symmetric=False,
    cond=1.0,
    noise_std=0.0,
    outlier_frac=0.0,
    outlier_scale=10.0,
    design="gaussian",
    seed=None,
):
    """Generate a seeded matrix-sensing problem.

    Parameters
    ----------
    n1, n2 : int
        Shape of the unknown matrix.
    rank : int
        Rank of the truth.
    m : int
        Number of measurements.
    symmetric : bool, default False
        PSD truth ``U diag(s) Uᵀ`` and symmetric sensing matrices (``n1 == n2``).
    cond : float, default 1
        Condition number ``σ_1/σ_r`` of the truth (σ_1 = 1).
    noise_std : float, default 0
        Dense Gaussian noise, as a fraction of the RMS of the clean measurements.
    outlier_frac : float in [0, 1), default 0
        Fraction of measurements replaced by gross outliers ``N(0, (outlier_scale · rms)²)``.
    outlier_scale : float, default 10
    design : {"gaussian", "rank_one"}
        :class:`~lrkit.operators.GaussianSensing` or :class:`~lrkit.operators.RankOneSensing`.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    SensingProblem
    """
    n1, n2, m = check_int("n1", n1, 1), check_int("n2", n2, 1), check_int("m", m, 1)
    rank = check_rank(rank, (n1, n2))
    cond = check_real("cond", cond, low=1.0)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    outlier_frac = check_real("outlier_frac", outlier_frac, low=0.0, high=1.0, high_open=True)
    outlier_scale = check_real("outlier_scale", outlier_scale, low=0.0)
    check_choice("design", design, ("gaussian", "rank_one"))
    if symmetric and n1 != n2:
        raise ValueError(f"symmetric=True needs n1 == n2; got n1={n1}, n2={n2}")
    if symmetric and design != "gaussian":
        raise ValueError("symmetric=True is available for design='gaussian' only")
    rng = as_generator(seed)
    truth = low_rank_matrix(n1, n2, rank, cond, symmetric, rng)
    if design == "gaussian":
        operator = GaussianSensing(n1, n2, m, symmetric=symmetric, seed=rng)
    else:
        operator = RankOneSensing(n1, n2, m, seed=rng)
    clean = operator.forward(truth)
    rms = float(np.sqrt(np.mean(clean**2)))
    y = clean + noise_std * rms * rng.standard_normal(m)
    outliers = rng.random(m) < outlier_frac
    y[outliers] = outlier_scale * rms * rng.standard_normal(int(outliers.sum()))
    return SensingProblem(operator, y, truth, rank, outliers)
