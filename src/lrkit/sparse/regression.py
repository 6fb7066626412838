"""Sparse linear regression on ill-conditioned designs: a preconditioner, then the Lasso.

Model ``y = X w* + ξ`` with ``w*`` k-sparse. The Lasso's prediction error (its "slow rate",
which needs no condition on ``X``) is of order ``σ ||w*||₁ max_j ||X_j|| √(log d / N) / √N``.
On an ill-conditioned design a sparse ``w*`` can have a huge ``||w*||₁`` for a modest
prediction norm ``||X w*||`` (its columns nearly cancel), and the Lasso then predicts
nothing. Paper 18 (Chandrasekaran, Meka & Stavropoulos 2025, *Sparse Linear Regression is
Easy on Random Supports*) solves the problem in two phases: **(1)** find a preconditioner
from ``X`` alone under which a randomly supported ``w*`` has a small ℓ1 norm relative to its
prediction norm, **(2)** run the Lasso on the preconditioned design.

lrkit's Phase 1 (our construction; the paper's own preconditioner search could not be read
in full from the material we hold, see the notes) deflates the design's dominant singular
directions and normalises the columns of what is left:

    X = U Σ Vᵀ,   T = top singular directions with σ_i > gap · median(σ)  (at most N / 2),
    Z = (I − U_T U_Tᵀ) X D⁻¹,   D = diag(||(I − U_T U_Tᵀ) X_j||).

The dominant part ``U_T U_Tᵀ y`` lives in ``|T|`` dimensions and is predicted by least
squares (costing ``|T| σ² / N``); the deflated part, where the cancellations of ``w*`` show,
is well scaled, and Phase 2 runs the Lasso on ``(Z, (I − U_T U_Tᵀ) y)`` with ``λ`` chosen by
K-fold cross-validation and the one-standard-error rule, keeps the ``k`` largest
coefficients and refits them by least squares (removing the Lasso's shrinkage), then adds
the least-squares fit of the dominant directions:

    ŵ = D⁻¹ v̂ + V_T Σ_T⁻¹ U_Tᵀ (y − X D⁻¹ v̂).

``method="lasso"`` is Phase 2 alone on ``X`` with normalised columns (no deflation): the
baseline, for comparisons on the same footing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lrkit._validation import check_choice, check_finite_array, check_int, check_real
from lrkit.recovery.harness import Run
from lrkit.registry import declare
from lrkit.result import RecoveryResult, Status

SPARSE_REGRESSION_METHODS = declare("sparse_regression", "sparse linear regression (paper 18)", {
    "preconditioned": "deflate the dominant directions, then the Lasso (paper 18)",
    "lasso": "the Lasso on normalised columns alone (the baseline)",
})
#: A fit explaining less than this share of ``y``'s variance found no signal (not converged).
MIN_EXPLAINED = 0.05
#: Deflated directions never exceed this fraction of the samples (their fit costs |T| σ² / N);
#: a design with more dominant directions is reported ill-posed (at N/4, the cap before,
#: 120 directions from 400 samples left a prediction error of 0.88 said to be converged).
MAX_DEFLATED_FRACTION = 0.5


@dataclass(repr=False)
class SparseRegressionResult(RecoveryResult):
    """:class:`~lrkit.RecoveryResult` of :func:`sparse_regression`.

    Attributes
    ----------
    coef : numpy.ndarray, shape (d,)
        The weight vector ``ŵ`` (also ``estimate``); judge it by ``X ŵ``, as the paper does.
    support : numpy.ndarray of int
        The (at most ``k``) coefficients the Lasso phase selected.
    deflated_rank : int
        Dominant singular directions the preconditioner removed (0 for ``method="lasso"``).
    alpha : float
        The Lasso penalty chosen by cross-validation (scikit-learn's scaling:
        ``||r||² / (2N) + alpha ||v||₁``).
    """

    coef: np.ndarray = None
    support: np.ndarray = None
    deflated_rank: int = 0
    alpha: float = float("nan")

    @cached_property
    def estimate(self):
        """The weight vector (``coef``)."""
        return self.coef


def sparse_regression(X, y, k=None, *, method="preconditioned", gap=10.0, cv=5, seed=None,
                      max_iter=10_000, truth=None):
    """Estimate ``w*`` from ``y = X w* + ξ`` with ``w*`` sparse, robustly to ill-conditioning.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Design matrix, any condition number (the preconditioner is built from it alone).
    y : array_like, shape (N,)
    k : int, optional
        Sparsity of ``w*``: at most ``k`` Lasso coefficients are kept and refit by least
        squares. None keeps the Lasso's own support (no refit).
    method : {"preconditioned", "lasso"}
        Paper 18's two phases (default), or the Lasso on normalised columns alone.
    gap : float > 1
        A singular value above ``gap`` times the median is a dominant direction.
    cv : int >= 2
        Folds of the cross-validation that chooses the penalty.
    seed : int, optional
        Fold assignment.
    max_iter : int
        Bound on coordinate-descent sweeps of each Lasso fit.
    truth : array_like, shape (d,), optional
        Sets ``rel_error`` (``||ŵ − w*|| / ||w*||``) of the final weights.

    Returns
    -------
    SparseRegressionResult
        ``history`` has one entry per penalty on the path: ``loss`` (mean held-out squared
        error) and ``alpha``.

    Examples
    --------
    >>> import numpy as np, lrkit
    >>> problem = lrkit.problems.ill_conditioned_regression(200, 500, 8, seed=0)
    >>> result = lrkit.sparse_regression(problem.X, problem.y, 8, seed=0)
    >>> bool(problem.prediction_error(result.coef) < 0.05)
    True
    """
    check_choice("method", method, SPARSE_REGRESSION_METHODS)
    X = check_finite_array("X", np.asarray(X, dtype=float), ndim=2)
    y = check_finite_array("y", np.asarray(y, dtype=float).reshape(-1))
    n_samples, n_features = X.shape
    if y.size != n_samples:
        raise ValueError(f"y must have {n_samples} entries (one per row of X); got {y.size}")
    if k is not None:
        k = check_int("k", k, 1, n_features, high_label="d")
    gap = check_real("gap", gap, low=1.0, low_open=True)
    cv = check_int("cv", cv, 2, n_samples, high_label="N")
    check_int("max_iter", max_iter, 1)
    if truth is not None:
        truth = np.asarray(truth, dtype=float).reshape(-1)
        if truth.size != n_features:
            raise ValueError(f"truth must have {n_features} entries; got {truth.size}")

    run = Run(method, max_iter=max_iter)
    top = _dominant_directions(X, gap) if method == "preconditioned" else None
    cap = int(MAX_DEFLATED_FRACTION * n_samples)
    dominant = 0 if top is None else int(top[1].size)
    if dominant > cap:
        U, s, Vt = top
        top = U[:, :cap], s[:cap], Vt[:cap]
    Z, target = _deflated(X, y, top)
    norms = np.linalg.norm(Z, axis=0)
    scale = np.where(norms > 0, norms, 1.0)
    v, alpha, converged = _lasso_phase(Z / scale, target, k, cv, seed, max_iter, run)
    coef = v / scale
    deflated = 0 if top is None else int(top[1].size)
    if deflated:
        U, s, Vt = top
        coef = coef + Vt.T @ ((U.T @ (y - X @ coef)) / s)
    explained = 1.0 - float(np.sum((y - X @ coef) ** 2)) / max(float(y @ y), 1e-300)
    if converged and dominant > cap:
        run.stop(Status.ILL_POSED, (
            f"X has {dominant} dominant directions, more than the {cap} (N/2) that can be "
            "deflated: the Lasso on the rest is ill-conditioned and the answer unreliable; "
            "measure more samples"))
    elif converged and explained < MIN_EXPLAINED:
        run.stop(Status.ILL_POSED, (
            f"the fit explains {max(explained, 0.0):.0%} of y's variance: no sparse signal "
            "was found" + ("; on an ill-conditioned X use method='preconditioned'"
                           if method == "lasso" else "")))
    elif converged:
        run.stop(Status.CONVERGED, "Lasso path solved" + (
            "; dominant directions fit by least squares" if deflated else ""))
    else:
        run.stop(Status.MAX_ITER, f"coordinate descent reached max_iter={max_iter}")
    result = run.result((coef[:, None], np.ones((1, 1))), cls=SparseRegressionResult,
                        coef=coef, support=np.flatnonzero(v), alpha=alpha,
                        deflated_rank=deflated)
    if truth is not None:
        errors = np.full(result.n_iter, np.nan)
        errors[-1:] = np.linalg.norm(coef - truth) / max(np.linalg.norm(truth), 1e-300)
        result.history["rel_error"] = errors
    return result


def _dominant_directions(X, gap):
    """``(U_T, σ_T, V_Tᵀ)``: the singular triplets above ``gap`` · median, or up to the
    largest jump ``σ_i / σ_{i+1} > gap`` when that is further (the caller caps them)."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    positive = s[s > 0]
    if positive.size == 0:
        return U[:, :0], s[:0], Vt[:0]
    count = int(np.sum(s > gap * np.median(positive)))
    jumps = positive[:-1] / positive[1:]  # a dominant block of half the spectrum or more
    if jumps.size and jumps.max() > gap:  # hides the median rule's reference: its edge
        count = max(count, int(np.argmax(jumps)) + 1)
    return U[:, :count], s[:count], Vt[:count]


def _deflated(X, y, top):
    """``(I − U_T U_Tᵀ) X`` and ``(I − U_T U_Tᵀ) y`` (unchanged without ``top``)."""
    if top is None or top[1].size == 0:
        return X, y
    U = top[0]
    return X - U @ (U.T @ X), y - U @ (U.T @ y)


def _lasso_phase(Z, target, k, cv, seed, max_iter, run):
    """Lasso with the one-standard-error penalty, then (given ``k``) a least-squares refit of
    the ``k`` largest coefficients. Returns ``(v, alpha, converged)``."""
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
    from sklearn.linear_model import Lasso, LassoCV

    if not np.any(target):
        return np.zeros(Z.shape[1]), float("nan"), True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SklearnConvergenceWarning)
        path = LassoCV(cv=cv, fit_intercept=False, max_iter=max_iter, random_state=seed,
                       selection="cyclic").fit(Z, target)
        mse = path.mse_path_.mean(axis=1)
        spread = path.mse_path_.std(axis=1) / np.sqrt(path.mse_path_.shape[1])
        for step, (alpha, loss) in enumerate(zip(path.alphas_, mse, strict=True), 1):
            run.t = step
            run.record(loss, (), alpha=alpha)
        best = int(np.argmin(mse))
        alpha = float(path.alphas_[np.flatnonzero(mse <= mse[best] + spread[best]).min()])
        v = Lasso(alpha=alpha, fit_intercept=False, max_iter=max_iter).fit(Z, target).coef_
    converged = not any(issubclass(w.category, SklearnConvergenceWarning) for w in caught)
    if k is not None and np.any(v):
        keep = np.argsort(-np.abs(v))[:min(k, np.count_nonzero(v))]
        v = np.zeros_like(v)
        v[keep] = np.linalg.lstsq(Z[:, keep], target, rcond=None)[0]
    return v, alpha, converged
