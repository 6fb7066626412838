"""Calibration and sparse recovery, side by side with what a user would otherwise write.

1. Blind gain calibration: lrkit's three methods against alternating least squares (the
   baseline: x by least squares for fixed gains, each gain by a scalar least squares for
   fixed x, gains renormalised to mean 1), time and error, plus a phase-transition plot.
2. Kronecker sparse Bayesian learning against plain SBL on the dense ``Φ₁ ⊗ Φ₂`` and
   scikit-learn's OrthogonalMatchingPursuit and LassoCV.
3. Sparse regression on ill-conditioned designs with random supports (paper 18) against
   scikit-learn's LassoCV and OrthogonalMatchingPursuit, prediction error against N.
4. ℓp regression on sampled rows against the full solve.
"""

from __future__ import annotations

import time
import warnings
from functools import partial

import numpy as np

import lrkit
from lrkit import relative_error
from lrkit.approx import lp_regression

PHASE_PLOT = "docs/calibration_phase.png"
SEEDS = 10


def alternating_least_squares(sensing, y, max_iter=5000, tol=1e-12):
    """The baseline: exact minimisation over x, then over each gain, repeated."""
    p, m, n = sensing.shape
    gains = np.ones(m)
    stacked = sensing.reshape(p * m, n)
    previous = None
    iteration = 0
    while iteration < max_iter:
        iteration += 1
        x = np.linalg.lstsq(stacked * np.tile(gains, p)[:, None], y.reshape(-1), rcond=None)[0]
        Ax = np.einsum("lmn,n->lm", sensing, x)
        gains = np.sum(Ax * y, axis=0) / np.maximum(np.sum(Ax**2, axis=0), 1e-300)
        scale = gains.mean()
        gains, x = gains / scale, x * scale
        loss = float(np.sum((gains * np.einsum("lmn,n->lm", sensing, x) - y) ** 2))
        if loss < 1e-28 or (previous is not None and abs(previous - loss) <= tol * previous):
            break
        previous = loss
    return gains, x, iteration


def _calibration_run(method, problem):
    start = time.perf_counter()
    if method == "alternating LS":
        gains, signal, iterations = alternating_least_squares(problem.sensing, problem.y)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
            result = lrkit.calibrate(problem.sensing, problem.y, method)
        gains, signal, iterations = result.gains, result.signal, result.n_iter
    seconds = time.perf_counter() - start
    error = relative_error(np.outer(gains, signal), np.outer(problem.gains, problem.signal))
    return error, seconds, iterations


CALIBRATION_METHODS = ("blind_gain", "least_squares", "spectral", "alternating LS")


def calibration_table():
    rows = ["| n | m | p | noise | method | rel. error (median) | time (s, median) "
            "| iterations |", "|---:|---:|---:|---:|---|---:|---:|---:|"]
    for n, m, p, noise in [(32, 64, 4, 0.0), (64, 128, 4, 0.0), (128, 256, 3, 0.0),
                           (64, 128, 4, 0.01)]:
        for method in CALIBRATION_METHODS:
            runs = [_calibration_run(method, lrkit.problems.calibration(
                n, m, p, noise_std=noise, seed=seed)) for seed in range(5)]
            error, seconds, iterations = np.median(np.array(runs), axis=0)
            rows.append(f"| {n} | {m} | {p} | {noise:g} | {method} | {error:.1e} | "
                        f"{seconds:.3f} | {iterations:.0f} |")
    rows.append("")
    rows.append(_phase_transition())
    return "\n".join(rows)


def _phase_transition(n=20, m=40):
    from lrkit.plotting import plot_phase_transition

    snapshots = [1, 2, 3, 4, 5, 6]
    ratios = [m * p / (n + m) for p in snapshots]
    curves = {}
    for method in CALIBRATION_METHODS:
        rates = []
        for p in snapshots:
            wins = sum(_calibration_run(method, lrkit.problems.calibration(
                n, m, p, seed=1000 + seed))[0] < 1e-6 for seed in range(SEEDS))
            rates.append(wins / SEEDS)
        curves[method] = (ratios, rates)
    plot_phase_transition(curves, PHASE_PLOT, xlabel="measurements / unknowns  m p / (n + m)",
                          title=f"Blind gain calibration, n = {n}, m = {m}, {SEEDS} seeds")
    lines = ["| m p / (n + m) | " + " | ".join(CALIBRATION_METHODS) + " |",
             "|---:|" + "---:|" * len(CALIBRATION_METHODS)]
    for index, ratio in enumerate(ratios):
        lines.append(f"| {ratio:.2f} | " + " | ".join(
            f"{curves[method][1][index]:.0%}" for method in CALIBRATION_METHODS) + " |")
    return ("Success rate (relative error below 1e-6, noiseless) against the number of "
            "measurements:\n\n" + "\n".join(lines)
            + f"\n\n![phase transition]({PHASE_PLOT.removeprefix('docs/')})")


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def sparse_bayes_table():
    rows = ["| N₁ × N₂ | m₁ × m₂ | method | rel. error | time (s) | time / Kronecker SVD |",
            "|---|---|---|---:|---:|---:|"]
    for n1, m1, k in [(24, 12, 2), (32, 16, 3)]:
        problem = lrkit.problems.kronecker_sparse(n1, n1, m1, m1, k, k, noise_std=0.05,
                                                  seed=0)
        clean = problem.dictionary @ problem.truth
        noise = 0.05**2 * float(np.mean(clean**2))
        runs = _sparse_runs(problem, noise, k * k)
        reference = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, run in runs.items():
                coef, seconds = _timed(run)
                reference = reference or seconds
                rows.append(f"| {n1} × {n1} | {m1} × {m1} | {name} | "
                            f"{relative_error(coef, problem.truth):.3f} | {seconds:.3f} | "
                            f"{seconds / reference:.1f} |")
    return "\n".join(rows)


def _sparse_runs(problem, noise, nonzeros):
    """name -> a call returning the coefficients, for one problem."""
    from sklearn.linear_model import LassoCV, OrthogonalMatchingPursuit

    y, dictionary = problem.y, problem.dictionary
    omp = OrthogonalMatchingPursuit(n_nonzero_coefs=nonzeros, fit_intercept=False)
    lasso = LassoCV(fit_intercept=False, cv=3, n_jobs=1)
    return {
        "lrkit Kronecker SBL (svd)": partial(_sbl, y, kron=problem.factors, noise_var=noise),
        "lrkit Kronecker SBL (am)": partial(_sbl, y, kron=problem.factors, method="am",
                                            noise_var=noise, max_iter=3000),
        "lrkit plain SBL (em)": partial(_sbl, y, dictionary, noise_var=noise),
        "scikit-learn OMP (true sparsity)": lambda: omp.fit(dictionary, y).coef_,
        "scikit-learn LassoCV": lambda: lasso.fit(dictionary, y).coef_,
    }


def unknown_noise_table():
    """Kronecker SBL learning the noise against the same run told the noise, 5 seeds."""
    rows = ["| N₁ × N₂ | m₁ × m₂ | k × k | noise | error / known-noise error (median, max) "
            "| learned / true noise variance (min, max) | converged |",
            "|---|---|---|---:|---:|---:|---:|"]
    for n1, m1, k in [(24, 12, 2), (32, 16, 3), (32, 16, 4), (40, 20, 3)]:
        for noise_std in (0.05, 0.1):
            ratios, learned, converged = [], [], 0
            for seed in range(5):
                problem = lrkit.problems.kronecker_sparse(n1, n1, m1, m1, k, k,
                                                          noise_std=noise_std, seed=seed)
                clean = problem.dictionary @ problem.truth
                noise = noise_std**2 * float(np.mean(clean**2))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    given = lrkit.sparse_bayes(problem.y, kron=problem.factors, noise_var=noise)
                    free = lrkit.sparse_bayes(problem.y, kron=problem.factors)
                ratios.append(relative_error(free.coef, problem.truth)
                              / relative_error(given.coef, problem.truth))
                learned.append(free.noise_var / noise)
                converged += free.converged
            rows.append(f"| {n1} × {n1} | {m1} × {m1} | {k} × {k} | {noise_std:.0%} | "
                        f"{np.median(ratios):.2f}, {max(ratios):.2f} | "
                        f"{min(learned):.2f}, {max(learned):.2f} | {converged} of 5 |")
    return "\n".join(rows)


def _sbl(*args, **kwargs):
    return lrkit.sparse_bayes(*args, **kwargs).coef


def sparse_regression_table():
    from sklearn.linear_model import LassoCV, OrthogonalMatchingPursuit

    d, k, seeds = 1000, 10, 3
    rows = ["| N | values on the support | method | prediction error (mean of 3) | time (s) |",
            "|---:|---|---|---:|---:|"]
    for values in ("cancelling", "gaussian"):
        for n in (50, 100, 200, 400):
            problems = [lrkit.problems.ill_conditioned_regression(n, d, k, values=values,
                                                                  seed=seed)
                        for seed in range(seeds)]
            methods = {  # name -> the prediction X ŵ (+ intercept) on one problem
                "lrkit sparse_regression (preconditioned)":
                    lambda p: p.X @ lrkit.sparse_regression(p.X, p.y, k, seed=0).coef,
                "lrkit sparse_regression (lasso, no preconditioner)":
                    lambda p: p.X @ lrkit.sparse_regression(p.X, p.y, k, method="lasso",
                                                            seed=0).coef,
                "scikit-learn LassoCV":
                    lambda p: LassoCV(cv=5, random_state=0).fit(p.X, p.y).predict(p.X),
                "scikit-learn OMP (true k)":
                    lambda p: OrthogonalMatchingPursuit(n_nonzero_coefs=k).fit(
                        p.X, p.y).predict(p.X),
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for name, predict in methods.items():
                    runs = [_timed(partial(predict, p)) for p in problems]
                    error = np.mean([np.mean((prediction - p.X @ p.truth) ** 2)
                                     for p, (prediction, _) in zip(problems, runs, strict=True)])
                    seconds = np.mean([t for _, t in runs])
                    rows.append(f"| {n} | {values} | {name} | {error:.2e} | {seconds:.2f} |")
    return "\n".join(rows)


def lp_regression_table():
    rows = ["| p | n × d | sampling | rows kept | cost / optimum (median of 5) | time (s) "
            "| full solve (s) |", "|---:|---|---|---:|---:|---:|---:|"]
    n, d = 10000, 10
    problem = lrkit.problems.coherent_regression(n, d, seed=0)  # d rows of leverage ~1
    A, b = problem.A, problem.b
    for p, samplings in [(1.0, ("root_leverage", "lewis", "uniform")),
                         (3.0, ("leverage_sensitivity", "lewis", "uniform"))]:
        full, full_seconds = _timed(lambda p=p: lp_regression(A, b, p))
        for sampling in samplings:
            results = [_timed(partial(lp_regression, A, b, p, 20 * d, sampling=sampling,
                                      seed=seed)) for seed in range(5)]
            ratio = np.median([r.cost / full.cost for r, _ in results])
            seconds = np.median([t for _, t in results])
            kept = np.median([r.rows.size for r, _ in results])
            rows.append(f"| {p:g} | {n} × {d} | {sampling} | {kept:.0f} | {ratio:.3f} | "
                        f"{seconds:.3f} | {full_seconds:.2f} |")
    return "\n".join(rows + ["", *_l1_baseline_rows()])


def _irls(A, b, steps=200):
    """Iteratively reweighted least squares for ``min ||A x − b||_1`` (weights
    ``1 / max(|r|, 1e-8)``), the baseline the full p = 1 solve is timed against."""
    x = np.linalg.lstsq(A, b, rcond=None)[0]
    for _ in range(steps):
        root = 1 / np.sqrt(np.maximum(np.abs(A @ x - b), 1e-8))
        x = np.linalg.lstsq(A * root[:, None], b * root, rcond=None)[0]
    return x


def _l1_baseline_rows():
    """Issue 43's target: the unsampled p = 1 solve within 2× of IRLS's time at equal cost
    (the primal LP it replaced took 9.7 s at 10 000 × 10)."""
    rows = ["| p = 1, full solve | n × d | cost | time (s) |", "|---|---|---:|---:|"]
    ratios = []
    for n, d in ((10000, 10), (20000, 10), (5000, 50)):
        problem = lrkit.problems.coherent_regression(n, d, seed=0)
        A, b = problem.A, problem.b
        lp, lp_seconds = _timed(lambda A=A, b=b: lp_regression(A, b, 1.0))
        x, irls_seconds = _timed(lambda A=A, b=b: _irls(A, b))
        rows.append(f"| lrkit `lp_regression(A, b, 1)` (dual LP, optimality proven) | {n} × {d} "
                    f"| {lp.cost:.6g} | {lp_seconds:.2f} |")
        rows.append(f"| IRLS, 200 steps | {n} × {d} | {np.abs(A @ x - b).sum():.6g} | "
                    f"{irls_seconds:.2f} |")
        ratios.append(lp_seconds / irls_seconds)
    met = "met" if max(ratios) <= 2 else "not met"
    return [*rows, "", f"Target (within 2× of IRLS's time): {met}; lrkit's time / IRLS's "
            + ", ".join(f"{r:.2f}" for r in ratios) + "."]


SECTIONS = [
    ("## Calibration and sparse recovery: blind gain calibration",
     "Gains uniform in [0.5, 1.5] (mean 1), Gaussian sensing, p snapshots of one signal; "
     "median of 5 seeds. Errors are those of the rank-one d xᵀ (free of the gain–signal "
     "scale). `blind_gain` is projected gradient descent (Cambareri & Jacques, paper 5), "
     "`least_squares` and `spectral` the lifted linear methods (Ling & Strohmer, paper 9); the "
     "baseline alternates exact least squares in x and in the gains.", calibration_table),
    ("## Calibration and sparse recovery: Kronecker sparse Bayesian learning",
     "Kronecker-structured dictionary Φ₁ ⊗ Φ₂ (Gaussian) and support S₁ × S₂ (k × k "
     "non-zeros), 5 % noise, known noise variance for SBL. Plain SBL and the scikit-learn "
     "peers work on the dense m × N dictionary; OMP is told the true number of non-zeros.",
     sparse_bayes_table),
    ("## Calibration and sparse recovery: Kronecker SBL with the noise unknown",
     "Paper 35's claim with σ² learned: Kronecker SBL (`svd` M-step, defaults) with the "
     "noise variance learned, against the same run told the true variance, on 5 seeds of "
     "each problem. Before the noise floor (half the noise read from the lower quarter of the "
     "singular values of the m₁ × m₂ measurements, where the support's low rank leaves only "
     "noise) the learned variance collapsed to zero on 2–5 of 5 seeds at 10 % noise, with "
     "errors 7–25× the known-noise run's.", unknown_noise_table),
    ("## Calibration and sparse recovery: sparse regression on ill-conditioned designs",
     "Paper 18's setting: X = L + H / 1e6 with L of rank 5 (cond(X) about 1e7), d = 1000, "
     "k = 10 on a uniformly random support, noise 0.1, w* scaled to unit prediction norm. "
     "`cancelling` puts worst-case values on that support (in the null space of L_S, so "
     "the coefficients are of order 1e6); `gaussian` puts independent normal values. The "
     "error is ||X (ŵ − w*)||² / N (1 means nothing of the signal was predicted). lrkit's "
     "preconditioner deflates the dominant singular directions and normalises the columns; "
     "the Lasso phase chooses its penalty by 5-fold cross-validation (one-standard-error "
     "rule) and refits the k largest coefficients.", sparse_regression_table),
    ("## Calibration and sparse recovery: ℓp regression on sampled rows",
     "Gaussian rows plus d rows of leverage about 1 (scaled by 1e3), Laplace noise; about "
     "20 d rows kept with probability ∝ the importance, rescaled by q^(-1/p); the cost is "
     "measured on all rows (Woodruff & Yasuda, paper 41). Then the unsampled p = 1 solve "
     "against 200 steps of iteratively reweighted least squares (target: within 2× of its "
     "time at equal cost).", lp_regression_table),
]

if __name__ == "__main__":
    for title, intro, table in SECTIONS:
        print(title, intro, table(), sep="\n\n")
