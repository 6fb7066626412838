"""Seeded sparse-recovery problems: Kronecker-structured dictionaries and supports."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_int, check_real


@dataclass
class KroneckerSparseProblem:
    """``y = (Φ₁ ⊗ Φ₂) x + noise`` with ``x`` supported on ``S₁ × S₂``.

    Attributes
    ----------
    factors : tuple (Φ₁, Φ₂)
        Gaussian dictionaries, ``m₁ × N₁`` and ``m₂ × N₂``, columns of unit expected norm.
    y : numpy.ndarray, shape (m₁ m₂,)
    truth : numpy.ndarray, shape (N₁ N₂,)
        C-ordered ``vec(X)``, ``X`` non-zero on rows ``S₁`` and columns ``S₂`` only.
    support : numpy.ndarray of int
        Indices of the non-zeros of ``truth``.
    """

    factors: tuple
    y: np.ndarray
    truth: np.ndarray
    support: np.ndarray

    @property
    def dictionary(self):
        """The dense ``Φ₁ ⊗ Φ₂`` (for plain SBL and the peers)."""
        return np.kron(*self.factors)


def kronecker_sparse(n1, n2, m1, m2, k1, k2, *, noise_std=0.0, seed=None):
    """Generate a Kronecker-sparse problem (the IRS-MIMO channel model of paper 35).

    Parameters
    ----------
    n1, n2 : int
        Atoms of each factor (``N = n1 n2`` unknowns).
    m1, m2 : int
        Measurements of each factor (``m = m1 m2``).
    k1, k2 : int
        Support sizes of each factor (``k1 k2`` non-zeros).
    noise_std : float, default 0
        Gaussian noise as a fraction of the RMS of the clean measurements.
    seed : int or numpy.random.Generator, optional
    """
    n1, n2 = check_int("n1", n1, 1), check_int("n2", n2, 1)
    m1, m2 = check_int("m1", m1, 1), check_int("m2", m2, 1)
    k1 = check_int("k1", k1, 1, n1, high_label="n1")
    k2 = check_int("k2", k2, 1, n2, high_label="n2")
    noise_std = check_real("noise_std", noise_std, low=0.0)
    rng = as_generator(seed)
    phi1 = rng.standard_normal((m1, n1)) / np.sqrt(m1)
    phi2 = rng.standard_normal((m2, n2)) / np.sqrt(m2)
    X = np.zeros((n1, n2))
    rows, cols = rng.choice(n1, k1, replace=False), rng.choice(n2, k2, replace=False)
    X[np.ix_(rows, cols)] = np.sign(rng.standard_normal((k1, k2))) * (
        1.0 + rng.random((k1, k2)))
    clean = (phi1 @ X @ phi2.T).reshape(-1)
    rms = float(np.sqrt(np.mean(clean**2)))
    y = clean + noise_std * rms * rng.standard_normal(clean.size)
    truth = X.reshape(-1)
    return KroneckerSparseProblem((phi1, phi2), y, truth, np.flatnonzero(truth))


@dataclass
class RegressionProblem:
    """``b = A x* + noise`` for ℓp regression.

    Attributes
    ----------
    A : numpy.ndarray, shape (n, d)
    b : numpy.ndarray, shape (n,)
    truth : numpy.ndarray, shape (d,)
    heavy : numpy.ndarray of int
        The rows of high leverage (which uniform sampling misses).
    """

    A: np.ndarray
    b: np.ndarray
    truth: np.ndarray
    heavy: np.ndarray


def coherent_regression(n, d, *, heavy=None, scale=1e3, seed=None):
    """An ℓp regression problem whose rows are far from uniformly important: Gaussian rows
    plus ``heavy`` (default ``d``) rows ``scale · e_j`` of leverage close to 1, Laplace noise,
    and large offsets on the heavy rows (so that dropping them moves the solution).
    """
    n, d = check_int("n", n, 2), check_int("d", d, 1, n - 1, high_label="n - 1")
    heavy = d if heavy is None else check_int("heavy", heavy, 0, n, high_label="n")
    scale = check_real("scale", scale, low=0.0, low_open=True)
    rng = as_generator(seed)
    A = rng.standard_normal((n, d))
    A[:heavy] = scale * np.eye(d)[np.arange(heavy) % d]
    truth = rng.standard_normal(d)
    b = A @ truth + rng.laplace(size=n)
    b[:heavy] += scale * rng.standard_normal(heavy)
    return RegressionProblem(A, b, truth, np.arange(heavy))


@dataclass
class SparseRegressionProblem:
    """``y = X w* + ξ`` with ``w*`` k-sparse on a uniformly random support.

    Attributes
    ----------
    X : numpy.ndarray, shape (N, d)
    y : numpy.ndarray, shape (N,)
    truth : numpy.ndarray, shape (d,)
        ``w*``, scaled so that ``||X w*||² / N = 1``.
    support : numpy.ndarray of int
    """

    X: np.ndarray
    y: np.ndarray
    truth: np.ndarray
    support: np.ndarray

    def prediction_error(self, coef):
        """Paper 18's error measure ``||X (ŵ − w*)||² / N`` (relative to the unit signal)."""
        return float(np.mean((self.X @ (np.asarray(coef, dtype=float) - self.truth)) ** 2))


def ill_conditioned_regression(n_samples, n_features, k, *, condition=1e6, rank=5,
                               values="cancelling", noise_std=0.1, seed=None):
    """Sparse regression on a design of condition number about ``condition`` (paper 18).

    ``X = L + H / condition`` with ``L`` of rank ``rank`` (Gaussian factors, entries of unit
    variance) and ``H`` Gaussian: every set of more than ``rank`` columns is nearly
    dependent. The support is uniformly random; the values are

    - ``"cancelling"`` (default): worst case on that support, in the null space of ``L_S``,
      so that the signal ``X w* = H w* / condition`` hides behind coefficients of order
      ``condition`` (needs ``k > rank``);
    - ``"gaussian"``: independent standard normal.

    ``w*`` is scaled to unit prediction norm; the noise has standard deviation ``noise_std``.
    """
    n_samples = check_int("n_samples", n_samples, 2)
    n_features = check_int("n_features", n_features, 2)
    k = check_int("k", k, 1, n_features, high_label="n_features")
    rank = check_int("rank", rank, 0, min(n_samples, n_features) - 1,
                     high_label="min(n_samples, n_features) - 1")
    condition = check_real("condition", condition, low=1.0)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    if values not in ("cancelling", "gaussian"):
        raise ValueError(f"values must be 'cancelling' or 'gaussian'; got {values!r}")
    if values == "cancelling" and k <= rank:
        raise ValueError(f"values='cancelling' needs k > rank; got k={k}, rank={rank}")
    rng = as_generator(seed)
    left = rng.standard_normal((n_samples, rank))
    right = rng.standard_normal((n_features, rank))
    X = left @ right.T / np.sqrt(max(rank, 1)) + rng.standard_normal(
        (n_samples, n_features)) / condition
    support = np.sort(rng.choice(n_features, k, replace=False))
    truth = np.zeros(n_features)
    if values == "cancelling":
        null_basis = np.linalg.svd(right[support].T)[2][rank:]  # null space of L_S's rows
        truth[support] = null_basis.T @ rng.standard_normal(null_basis.shape[0])
    else:
        truth[support] = rng.standard_normal(k)
    truth /= np.linalg.norm(X @ truth) / np.sqrt(n_samples)
    y = X @ truth + noise_std * rng.standard_normal(n_samples)
    return SparseRegressionProblem(X, y, truth, support)
