"""A teacher network with one wide hidden layer of quadratic units (paper 19's setting)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_int, check_real


@dataclass
class QuadraticNetworkProblem:
    """Samples of ``f*(x) = (1/√m) Σ_k ((w_k·x)²/d − 1)`` plus Gaussian label noise.

    ``f*(x) = (xᵀ S x − tr S)/√d + offset`` with ``S = Wᵀ W / √(d m)`` (d × d, rank
    ``min(m, d)``: extensive when the width ``m = width_ratio · d`` grows with ``d``) and the
    constant ``offset = (tr S − √(m) · √d)/√d``.

    Attributes
    ----------
    inputs : numpy.ndarray, (n, d)
        i.i.d. standard Gaussian.
    labels : numpy.ndarray, (n,)
    weights : numpy.ndarray, (m, d)
        The teacher's first layer (standard Gaussian).
    matrix : numpy.ndarray, (d, d)
        ``S``.
    offset : float
    noise : float
        Label-noise variance ``Δ``.
    """

    inputs: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    matrix: np.ndarray
    offset: float
    noise: float

    def target(self, inputs):
        """The noiseless teacher ``f*`` at ``inputs`` (n, d)."""
        inputs = np.asarray(inputs, dtype=float)
        d, m = self.weights.shape[1], self.weights.shape[0]
        return ((inputs @ self.weights.T) ** 2 / d - 1.0).sum(axis=1) / math.sqrt(m)


def quadratic_network(dim=100, width_ratio=0.5, alpha=0.5, noise=0.0,
                      seed=None) -> QuadraticNetworkProblem:
    """``n = alpha · dim²`` samples of a random quadratic network of width ``width_ratio · dim``.

    Parameters
    ----------
    dim : int
        Input dimension d.
    width_ratio : float
        κ = m / d.
    alpha : float
        Samples per squared dimension, ``n / d²`` (the regime of paper 19).
    noise : float
        Label-noise variance Δ.
    seed : None, int or numpy.random.Generator
    """
    dim = check_int("dim", dim, 2)
    width = max(1, round(check_real("width_ratio", width_ratio, 0.0, low_open=True) * dim))
    n = check_int("alpha * dim**2", round(check_real("alpha", alpha, 0.0, low_open=True)
                                          * dim * dim), 1)
    noise = check_real("noise", noise, 0.0)
    rng = as_generator(seed)
    weights = rng.standard_normal((width, dim))
    matrix = weights.T @ weights / math.sqrt(dim * width)
    problem = QuadraticNetworkProblem(rng.standard_normal((n, dim)), np.empty(n), weights,
                                      matrix, 0.0, noise)
    problem.offset = float((np.trace(matrix) - math.sqrt(width) * math.sqrt(dim))
                           / math.sqrt(dim))
    problem.labels = problem.target(problem.inputs) + math.sqrt(noise) * rng.standard_normal(n)
    return problem
