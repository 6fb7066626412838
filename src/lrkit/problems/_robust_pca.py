"""Seeded robust-PCA problems: low-rank plus sparse gross corruptions, optionally with gaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_int, check_rank, check_real
from lrkit.operators.base import check_fits


@dataclass
class RobustPCAProblem:
    """``matrix = low_rank + sparse`` observed on ``mask``.

    Attributes
    ----------
    matrix, low_rank, sparse : numpy.ndarray, shape (n1, n2)
        ``matrix`` is NaN on unobserved entries.
    mask : numpy.ndarray of bool
    rank : int
    """

    matrix: np.ndarray
    low_rank: np.ndarray
    sparse: np.ndarray
    mask: np.ndarray
    rank: int


def robust_pca(n1, n2, rank, corruption=0.05, *, magnitude=1.0, p_obs=1.0, seed=None):
    """Generate the robust-PCA test problem of Candès, Li, Ma & Wright (2011), Sec. 4.

    ``L = X Yᵀ`` with i.i.d. ``N(0, 1/n1)`` and ``N(0, 1/n2)`` factors; ``S`` has a uniformly
    random support of ``corruption · n1 n2`` entries with values ``±magnitude`` (random
    signs); each entry is observed with probability ``p_obs``.
    """
    n1, n2 = check_int("n1", n1, 1), check_int("n2", n2, 1)
    rank = check_rank(rank, (n1, n2))
    corruption = check_real("corruption", corruption, low=0.0, high=1.0, high_open=True)
    magnitude = check_real("magnitude", magnitude, low=0.0)
    p_obs = check_real("p_obs", p_obs, low=0.0, high=1.0, low_open=True)
    # Four dense n1 x n2 arrays are built (L, S, the matrix and a scratch copy).
    check_fits(f"a {n1}x{n2} robust PCA problem", 4 * 8 * n1 * n2, None,
               "Generate a smaller problem, or raise the budget if the memory is there.")
    rng = as_generator(seed)
    low_rank = (rng.standard_normal((n1, rank)) / np.sqrt(n1)) @ (
        rng.standard_normal((n2, rank)) / np.sqrt(n2)).T
    sparse = np.zeros((n1, n2))
    support = rng.choice(n1 * n2, size=round(corruption * n1 * n2), replace=False)
    sparse.flat[support] = magnitude * rng.choice([-1.0, 1.0], size=len(support))
    mask = rng.random((n1, n2)) < p_obs if p_obs < 1 else np.ones((n1, n2), dtype=bool)
    matrix = np.where(mask, low_rank + sparse, np.nan)
    return RobustPCAProblem(matrix, low_rank, np.where(mask, sparse, 0.0), mask, rank)
