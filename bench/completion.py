"""Matrix completion and robust PCA against fancyimpute, scikit-learn and tensorly.

Each function returns one markdown section of docs/benchmarks.md; all runs of a table
happen in one process on the same inputs.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import tracemalloc
import warnings

import numpy as np

import lrkit
from lrkit.operators import EntrySampling
from lrkit.problems import datasets


def shim_fancyimpute():
    """fancyimpute 0.7 calls ``check_array(force_all_finite=...)``, a keyword scikit-learn
    1.8 renamed ``ensure_all_finite``. Translate it in fancyimpute's modules only."""
    import importlib

    from sklearn.utils import check_array

    def compatible(*args, force_all_finite=True, **kwargs):
        kwargs.setdefault("ensure_all_finite", force_all_finite)
        return check_array(*args, **kwargs)

    for name in ("iterative_svd", "soft_impute", "solver"):
        module = importlib.import_module(f"fancyimpute.{name}")
        if hasattr(module, "check_array"):
            module.check_array = compatible


def timed(fn, *args):
    """``(fn(*args), seconds)``; peers' progress prints and warnings are swallowed."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*args)
    return out, time.perf_counter() - start


def log(row):
    """Show a finished row on stderr while the benchmark runs; return it."""
    print(row, file=sys.stderr, flush=True)
    return row


#: The completion table reports the time each method needs to reach this relative error.
TARGET_ERROR = 1e-2


def completion_peers(rank):
    """name -> function(X with NaN) returning the filled matrix."""
    shim_fancyimpute()
    from fancyimpute import IterativeSVD, SoftImpute
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    return {
        "fancyimpute SoftImpute": lambda X: SoftImpute(verbose=False).fit_transform(X),
        "fancyimpute SoftImpute (max_rank)": lambda X: SoftImpute(
            max_rank=rank, verbose=False).fit_transform(X),
        "fancyimpute IterativeSVD": lambda X: IterativeSVD(rank, verbose=False).fit_transform(X),
        "sklearn IterativeImputer (max_iter=3)": lambda X: IterativeImputer(
            max_iter=3, random_state=0).fit_transform(X),
    }


def lrkit_runs(prob, rank):
    """name -> RecoveryResult of lrkit's completion methods (with the truth for history)."""
    runs = {"lrkit altmin (exact)": {"method": "altmin"},
            "lrkit altmin (approx)": {"method": "altmin", "solver": "approx"},
            "lrkit softimpute": {"method": "softimpute"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: lrkit.recover(prob.operator, prob.y, rank, truth=prob.truth, seed=0,
                                    **options) for name, options in runs.items()}


def _time_to_target(result):
    reached = np.flatnonzero(result.history["rel_error"] <= TARGET_ERROR)
    return f"{result.history['time'][reached[0]]:.2f}" if reached.size else "not reached"


def completion_table():
    rows = [f"| n1 × n2, rank 10, 10 % observed | method | time (s) | rel. error | "
            f"time to rel. error {TARGET_ERROR:g} (s) |", "|---|---|---:|---:|---:|"]
    for n1, n2 in [(500, 400), (1000, 800), (2000, 1600)]:
        prob = lrkit.problems.completion(n1, n2, 10, p_obs=0.1, seed=0)
        for name, res in lrkit_runs(prob, 10).items():
            rows.append(log(f"| {n1} × {n2} | {name} | {res.wall_time:.2f} | "
                            f"{res.rel_error:.1e} | {_time_to_target(res)} |"))
        X = np.full(prob.truth.shape, np.nan)
        X[prob.operator.rows, prob.operator.cols] = prob.y
        for name, fill in completion_peers(10).items():
            if name.startswith("sklearn") and n1 > 500:
                rows.append(f"| {n1} × {n2} | {name} | skipped (> 5 min) | | |")
                continue
            filled, elapsed = timed(fill, X.copy())
            error = lrkit.relative_error(filled, prob.truth)
            reached = f"{elapsed:.2f}" if error <= TARGET_ERROR else "not reached"
            rows.append(log(f"| {n1} × {n2} | {name} | {elapsed:.2f} | {error:.1e} | "
                            f"{reached} |"))
    return "\n".join(rows)


def altmin_scaling_table():
    """Time per altmin iteration as |Ω| grows, up to 20 000 × 20 000 with 2·10⁶ entries."""
    rows = ["| n1 = n2 | observed entries | solver | s / iteration | iterations | "
            "rel. error (10⁴ sampled entries) | peak memory of the run (GiB) |",
            "|---:|---:|---|---:|---:|---:|---:|"]
    rng = np.random.default_rng(0)
    for n, m in [(5000, 250_000), (10_000, 1_000_000), (20_000, 2_000_000)]:
        F, G = rng.standard_normal((n, 10)), rng.standard_normal((n, 10))
        op = EntrySampling.random(n, n, m, seed=1)
        y = np.einsum("ek,ek->e", F[op.rows], G[op.cols])
        for solver in ("exact", "approx"):
            tracemalloc.start()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = lrkit.recover(op, y, 10, method="altmin", solver=solver, max_iter=60,
                                    tol=1e-12, seed=0)
            peak = tracemalloc.get_traced_memory()[1] / 2**30
            tracemalloc.stop()
            check = rng.integers(0, n, size=(2, 10_000))
            truth = np.einsum("ek,ek->e", F[check[0]], G[check[1]])
            Fh, Gh = res.factors
            estimate = np.einsum("ek,ek->e", Fh[check[0]], Gh[check[1]])
            error = np.linalg.norm(estimate - truth) / np.linalg.norm(truth)
            rows.append(f"| {n} | {m:,} | {solver} | {res.wall_time / res.n_iter:.3f} | "
                        f"{res.n_iter} | {error:.1e} | {peak:.2f} |")
    return "\n".join(rows)


def rpca_table():
    import tensorly as tl
    from tensorly.decomposition import robust_pca

    rows = ["| n × n, rank 5 % of n, 5 % corruptions | method | time (s) | "
            "rel. error of L | rel. error of S |", "|---|---|---:|---:|---:|"]
    for n in (300, 600, 1000):
        prob = lrkit.problems.robust_pca(n, n, rank=n // 20, corruption=0.05, seed=0)
        runs = {
            "lrkit rpca pcp": lambda M, n: _parts(lrkit.rpca(M)),
            "lrkit rpca altproj": lambda M, n: _parts(lrkit.rpca(M, method="altproj",
                                                                 rank=n // 20)),
            "tensorly robust_pca (defaults)": lambda M, n: robust_pca(tl.tensor(M)),
            "tensorly robust_pca (reg_E = 1/√n)": lambda M, n: robust_pca(
                tl.tensor(M), reg_E=1 / np.sqrt(n), n_iter_max=500),
        }
        for name, run in runs.items():
            (L, S), elapsed = timed(run, prob.matrix, n)
            rows.append(f"| {n} × {n} | {name} | {elapsed:.2f} | "
                        f"{lrkit.relative_error(np.asarray(L), prob.low_rank):.1e} | "
                        f"{lrkit.relative_error(np.asarray(S), prob.sparse):.1e} |")
    return "\n".join(rows)


def rpca_scaling_table():
    """PCP's time as n grows (rank n/20, 5 % corruptions), single-threaded."""
    from threadpoolctl import threadpool_limits

    rows = ["| n × n | rank | iterations | time (s) | time / previous | rel. error of L |",
            "|---|---:|---:|---:|---:|---:|"]
    previous = None
    with threadpool_limits(1):
        for n in (500, 1000, 2000):
            prob = lrkit.problems.robust_pca(n, n, rank=n // 20, corruption=0.05, seed=0)
            dec, seconds = timed(lrkit.rpca, prob.matrix)
            ratio = "–" if previous is None else f"{seconds / previous:.1f}"
            rows.append(log(f"| {n} × {n} | {n // 20} | {dec.n_iter} | {seconds:.1f} | {ratio} | "
                            f"{lrkit.relative_error(dec.low_rank, prob.low_rank):.1e} |"))
            previous = seconds
    return "\n".join(rows)


def _parts(decomposition):
    return decomposition.low_rank, decomposition.sparse


def _rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def real_data_table():
    """Held-out RMSE on the Big Five ratings and PSNR of image inpainting."""
    X0 = datasets.personality_ratings()
    rng = np.random.default_rng(0)
    test = ~np.isnan(X0) & (rng.random(X0.shape) < 0.2)
    X = np.where(test, np.nan, X0)
    rows = ["| data | method | time (s) | score |", "|---|---|---:|---:|"]
    means = np.nanmean(X, axis=0)
    rows.append(f"| Big Five ratings, 20 % held out | column means | 0.00 | RMSE "
                f"{_rmse(np.broadcast_to(means, X.shape)[test], X0[test]):.3f} |")
    shim_fancyimpute()
    from fancyimpute import IterativeSVD, SoftImpute
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    methods = {
        "lrkit MatrixCompletion() defaults": lambda Z: lrkit.MatrixCompletion(
            seed=0).fit_transform(Z),
        "lrkit altmin (rank 5, ridge 10, centred)": lambda Z: lrkit.MatrixCompletion(
            5, method="altmin", ridge=10.0, center=True, seed=0, max_iter=100,
            tol=1e-8).fit_transform(Z),
        "lrkit altmin (rank auto)": lambda Z: lrkit.MatrixCompletion(
            method="altmin", ridge=10.0, center=True, seed=0, max_iter=100,
            tol=1e-8).fit_transform(Z),
        "fancyimpute SoftImpute": lambda Z: SoftImpute(verbose=False).fit_transform(Z),
        "fancyimpute IterativeSVD (rank 5)": lambda Z: IterativeSVD(
            5, verbose=False).fit_transform(Z),
        "sklearn IterativeImputer": lambda Z: IterativeImputer(
            max_iter=10, random_state=0).fit_transform(Z),
    }
    for name, fill in methods.items():
        filled, elapsed = timed(fill, X.copy())
        rows.append(f"| Big Five ratings, 20 % held out | {name} | {elapsed:.2f} | RMSE "
                    f"{_rmse(filled[test], X0[test]):.3f} |")
    rows += instructor_rows(IterativeSVD)
    image = datasets.sample_image("china")
    for p_obs in (0.3, 0.5):
        mask = np.random.default_rng(0).random(image.shape) < p_obs
        Z = np.where(mask, image, np.nan)
        image_methods = {
            "lrkit altmin (rank 20, ridge 1)": lambda Z: lrkit.MatrixCompletion(
                20, method="altmin", ridge=1.0, center=True, seed=0, max_iter=100,
                tol=1e-7).fit_transform(Z),
            "lrkit softimpute (rank ≤ 80)": lambda Z: lrkit.MatrixCompletion(
                80, method="softimpute", center=True, seed=0).fit_transform(Z),
            "fancyimpute SoftImpute": lambda Z: SoftImpute(verbose=False).fit_transform(Z),
            "fancyimpute IterativeSVD (rank 20)": lambda Z: IterativeSVD(
                20, verbose=False).fit_transform(Z),
        }
        for name, fill in image_methods.items():
            filled, elapsed = timed(fill, Z.copy())
            psnr = 10 * np.log10(1.0 / np.mean((np.clip(filled, 0, 1) - image) ** 2))
            rows.append(f"| china.jpg 427 × 640, {p_obs:.0%} observed | {name} | "
                        f"{elapsed:.2f} | PSNR {psnr:.1f} dB |")
    return "\n".join(rows)


def instructor_rows(IterativeSVD):
    """Held-out RMSE on the ETH lecturer ratings (2 % dense, weak low-rank structure)."""
    data = datasets.instructor_ratings()
    train, test = data.split(0.1, seed=0)
    X = np.full(data.shape, np.nan)
    X[data.rows[train], data.cols[train]] = data.values[train]
    truth = data.values[test]
    label = "InstEval ratings, 10 % held out"
    counts = np.sum(~np.isnan(X), axis=0)
    means = np.where(counts > 0, np.nansum(X, axis=0) / np.maximum(counts, 1), np.nanmean(X))
    rows = [f"| {label} | column means | 0.00 | RMSE "
            f"{_rmse(means[data.cols[test]], truth):.3f} |"]
    methods = {
        "lrkit MatrixCompletion() defaults": lambda Z: lrkit.MatrixCompletion(
            seed=0).fit_transform(Z),
        "lrkit altmin (rank 1, ridge 5, centred)": lambda Z: lrkit.MatrixCompletion(
            1, method="altmin", ridge=5.0, center=True, fill_empty="mean", seed=0, max_iter=50,
            tol=1e-6).fit_transform(Z),
        "fancyimpute IterativeSVD (rank 1)": lambda Z: IterativeSVD(
            1, verbose=False).fit_transform(Z),
    }
    for name, fill in methods.items():
        filled, elapsed = timed(fill, X.copy())
        rows.append(f"| {label} | {name} | {elapsed:.2f} | RMSE "
                    f"{_rmse(filled[data.rows[test], data.cols[test]], truth):.3f} |")
    return rows


def generic_defaults_table():
    """``MatrixCompletion()``'s default on generic low-rank matrices (issue 39, items 8 and
    12): the default, the biased ratings model alone, and altmin told the true rank."""
    rows = ["| problem | method | chosen | time (s) | RMSE on the missing entries |",
            "|---|---|---|---:|---:|"]
    problems = [(400, 300, 6, 0.3, 0.0), (300, 200, 3, 0.3, 0.0), (1200, 800, 8, 0.1, 0.01),
                (3000, 2000, 15, 0.08, 0.01)]
    for n1, n2, rank, observed, noise in problems:
        rng = np.random.default_rng(0)
        M = rng.standard_normal((n1, rank)) @ rng.standard_normal((rank, n2)) / np.sqrt(rank)
        seen = rng.random(M.shape) < observed
        X = np.where(seen, M + noise * rng.standard_normal(M.shape), np.nan)
        missing = np.nonzero(~seen)
        label = f"{n1} × {n2}, rank {rank}, {observed:.0%} observed, noise {noise:g}"
        for name, options in (("default (auto)", {}), ("biased_als", {"method": "biased_als"}),
                              (f"altmin, rank {rank} given",
                               {"method": "altmin", "rank": rank})):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
                model, elapsed = timed(lrkit.MatrixCompletion(seed=0, **options).fit, X)
            error = _rmse(model.predict(*missing), M[missing])
            rows.append(f"| {label} | {name} | {model.method_} rank {model.rank_} | "
                        f"{elapsed:.2f} | {error:.3g} |")
    return "\n".join(rows)


FOLDS = 5
DENOISE_PLOT = "docs/denoising.png"
ALTMIN_RANK_PLOT = "docs/altmin_rank_scaling.png"


def _oracle_values(Y, S):
    """The oracle estimator with Y's singular vectors: values uᵢᵀ S vᵢ."""
    U, _, Vt = np.linalg.svd(Y, full_matrices=False)
    return (U * np.einsum("ij,ik,jk->j", U, S, Vt)) @ Vt


def denoising_table():
    """Rank-1 signal in white noise (300 × 600) across the detection threshold, and a
    symmetric extensive-rank signal: rotation-invariant estimator against thresholding."""
    from lrkit.plotting import plot_error_curves

    rng = np.random.default_rng(0)
    n1, n2 = 300, 600
    threshold = (n1 * n2) ** 0.25  # the spike strength at which it becomes detectable
    strengths = threshold * np.array([0.8, 1.1, 1.3, 1.6, 2.0, 3.0, 5.0])
    methods = {
        "oracle (uᵢᵀ S vᵢ)": lambda Y, S: _oracle_values(Y, S),
        "lrkit denoise (rie)": lambda Y, S: lrkit.denoise(Y).estimate,
        "lrkit denoise (hard, Gavish–Donoho threshold)": lambda Y, S: lrkit.denoise(
            Y, "hard").estimate,
        "lrkit denoise (soft at the noise edge)": lambda Y, S: lrkit.denoise(
            Y, "soft").estimate,
        "truncated SVD at the true rank (scipy svds)": lambda Y, S: _svds_rank(Y, 1),
    }
    curves = {name: (strengths / threshold, []) for name in methods}
    for strength in strengths:
        u, v = rng.standard_normal(n1), rng.standard_normal(n2)
        S = strength * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
        Y = S + rng.standard_normal(S.shape)
        for name, estimate in methods.items():
            curves[name][1].append(lrkit.relative_error(estimate(Y, S), S))
    plot_error_curves(curves, DENOISE_PLOT, "spike strength / detection threshold (n1 n2)^1/4",
                      title="Denoising a rank-1 signal in white noise, 300 × 600")
    rows = ["| signal | method | " + " | ".join(f"{x:.1f}" for x in strengths / threshold)
            + " |", "|---|---|" + "---:|" * len(strengths)]
    for name, (_, errors) in curves.items():
        rows.append(f"| rank 1, 300 × 600 | {name} | "
                    + " | ".join(f"{e:.3f}" for e in errors) + " |")
    rows += ["", _extensive_rows(rng), "", f"![denoising]({DENOISE_PLOT.removeprefix('docs/')})"]
    return "\n".join(rows)


def _svds_rank(Y, k):
    from scipy.sparse.linalg import svds

    U, s, Vt = svds(Y, k, random_state=0)
    return (U * s) @ Vt


def _extensive_rows(rng, n=500):
    """Symmetric S = X Xᵀ/√n of rank n/2 plus symmetric unit noise: the RIE's own setting."""
    X = rng.standard_normal((n, n // 2))
    S = X @ X.T / np.sqrt(n)
    W = rng.standard_normal((n, n))
    Y = S + (W + W.T) / np.sqrt(2)
    lam, Q = np.linalg.eigh(Y)
    oracle = (Q * np.einsum("ij,ik,kj->j", Q, S, Q)) @ Q.T
    lines = ["| signal (symmetric, 500 × 500, rank 250) | method | rel. error | time (s) |",
             "|---|---|---:|---:|",
             f"| extensive rank | oracle | {lrkit.relative_error(oracle, S):.3f} | – |",
             f"| extensive rank | observation Y itself | {lrkit.relative_error(Y, S):.3f} | – |"]
    for method in ("rie", "hard", "soft"):
        out, seconds = timed(lambda method=method: lrkit.denoise(Y, method, noise_std=1.0))
        lines.append(f"| extensive rank | lrkit denoise ({method}) | "
                     f"{lrkit.relative_error(out.estimate, S):.3f} | {seconds:.2f} |")
    return "\n".join(lines)


def movielens_table():
    """MovieLens-100k, 5-fold: lrkit's defaults against Surprise and fancyimpute."""
    data = datasets.movielens_100k()
    fold = np.random.default_rng(0).permutation(data.values.size) % FOLDS
    rows = ["| method | RMSE (mean of 5 folds) | s / fold | notes |", "|---|---:|---:|---|"]
    for name, (fit_predict, note) in _ratings_methods(data).items():
        errors, seconds, notes = [], [], []
        for k in range(FOLDS):
            train, test = fold != k, fold == k
            (predicted, detail), elapsed = timed(fit_predict, train, test)
            errors.append(_rmse(np.clip(predicted, 1, 5), data.values[test]))
            seconds.append(elapsed)
            notes.append(detail)
        detail = note or "; ".join(sorted(set(notes)))
        rows.append(log(f"| {name} | {np.mean(errors):.4f} | {np.mean(seconds):.2f} | "
                        f"{detail} |"))
    rows.append("")
    rows.append("Published 5-fold RMSE of Surprise on the same data (its documentation): "
                "SVD 0.934, SVD++ 0.919.")
    return "\n".join(rows)


def _ratings_methods(data):
    """name -> (function(train mask, test mask) -> (predictions, note), fixed note)."""
    shim_fancyimpute()
    from fancyimpute import IterativeSVD, SoftImpute

    def lrkit_default(train, test):
        model = lrkit.MatrixCompletion(seed=0).fit(
            (data.rows[train], data.cols[train], data.values[train], data.shape))
        return (model.predict(data.rows[test], data.cols[test]),
                f"rank {model.rank_}, ridge {model.ridge_:g}")

    def column_means(train, test):
        counts = np.bincount(data.cols[train], minlength=data.shape[1])
        sums = np.bincount(data.cols[train], data.values[train], data.shape[1])
        means = np.where(counts > 0, sums / np.maximum(counts, 1), data.values[train].mean())
        return means[data.cols[test]], ""

    def dense(fill):
        def run(train, test):
            X = np.full(data.shape, np.nan)
            X[data.rows[train], data.cols[train]] = data.values[train]
            empty = np.isnan(X).all(axis=0)  # fancyimpute needs every column observed once
            X[0, empty] = data.values[train].mean()
            return fill(X)[data.rows[test], data.cols[test]], ""
        return run

    methods = {
        "lrkit MatrixCompletion() defaults": (lrkit_default, None),
        "column means": (column_means, "baseline"),
        "fancyimpute SoftImpute (defaults)": (
            dense(lambda X: SoftImpute(verbose=False).fit_transform(X)), "dense 943 × 1682"),
        "fancyimpute IterativeSVD (rank 10)": (
            dense(lambda X: IterativeSVD(10, verbose=False).fit_transform(X)),
            "dense 943 × 1682"),
    }
    try:
        import surprise
    except ImportError:
        return methods

    def surprise_run(algorithm):
        def run(train, test):
            import pandas as pd

            frame = pd.DataFrame({"u": data.rows[train], "i": data.cols[train],
                                  "r": data.values[train]})
            trainset = surprise.Dataset.load_from_df(
                frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
            model = algorithm(random_state=0)
            model.fit(trainset)
            return np.array([model.predict(u, i).est for u, i in
                             zip(data.rows[test], data.cols[test], strict=True)]), ""
        return run

    methods["Surprise SVD (defaults)"] = (surprise_run(surprise.SVD), "SGD, 100 factors")
    methods["Surprise SVD++ (defaults)"] = (surprise_run(surprise.SVDpp), "SGD, 20 factors")
    return methods


def altmin_rank_table():
    """Time per altmin iteration as the rank grows: exact O(|Ω| k²) against the approximate
    CG solves O(|Ω| k) (paper 6), with a log-log plot."""
    from lrkit.plotting import plot_error_curves

    n, m = 4000, 1_600_000
    ranks = (10, 20, 40, 70, 100)
    rng = np.random.default_rng(0)
    op = EntrySampling.random(n, n, m, seed=1)
    check = rng.integers(0, n, size=(2, 10_000))
    rows = ["| k | solver | s / iteration | iterations | rel. error (10⁴ sampled entries) |",
            "|---:|---|---:|---:|---:|"]
    curves = {}
    for k in ranks:
        F, G = rng.standard_normal((n, k)), rng.standard_normal((n, k))
        y = np.einsum("ek,ek->e", F[op.rows], G[op.cols])
        truth = np.einsum("ek,ek->e", F[check[0]], G[check[1]])
        for solver, steps in (("exact", 0), ("approx", 2), ("approx", 4)):
            options = {"cg_steps": steps} if steps else {}
            res = lrkit.recover(op, y, k, method="altmin", solver=solver, max_iter=80,
                                tol=1e-10, seed=0, **options)
            per_iteration = float(np.median(np.diff(res.history["time"])))
            Fh, Gh = res.factors
            estimate = np.einsum("ek,ek->e", Fh[check[0]], Gh[check[1]])
            error = np.linalg.norm(estimate - truth) / np.linalg.norm(truth)
            label = solver + (f", {steps} CG steps" if steps else "")
            curves.setdefault(label, ([], []))
            curves[label][0].append(k)
            curves[label][1].append(per_iteration)
            rows.append(f"| {k} | {label} | {per_iteration:.3f} | {res.n_iter} | "
                        f"{error:.1e} |")
    plot_error_curves(curves, ALTMIN_RANK_PLOT, "rank k",
                      ylabel="seconds per iteration", loglog=True,
                      title=f"AltMin, {n} × {n}, |Ω| = {m:,}")
    slopes = {label: np.polyfit(np.log(x), np.log(t), 1)[0] for label, (x, t) in curves.items()}
    rows.append("")
    rows.append("Fitted growth exponent of time per iteration in k: " + "; ".join(
        f"{label} {slope:.2f}" for label, slope in slopes.items()) + ". "
        f"![time per iteration against k]({ALTMIN_RANK_PLOT.removeprefix('docs/')})")
    return "\n".join(rows)


SECTIONS = [
    ("## Matrix completion: lrkit against fancyimpute and scikit-learn",
     "Synthetic rank-10 truth, 10 % of entries observed uniformly, no noise. lrkit runs "
     "record the error every iteration (its cost is included in their times). Peers with "
     "their defaults (fancyimpute 0.7 needs a one-line shim for scikit-learn ≥ 1.8: "
     "`check_array(force_all_finite=…)` is translated to `ensure_all_finite`; "
     "see `shim_fancyimpute`). IterativeImputer regresses every column on all others; with its "
     "default 10 rounds it took 193 s at 500 × 400, so it runs 3 rounds and at the smallest "
     "size only.", completion_table),
    ("## Alternating minimisation: time per iteration as |Ω| grows",
     "Rank 10, exact (O(|Ω| k²)) and approximate CG (O(|Ω| k) per step, 4 steps) solves. "
     "The 20 000 × 20 000 problem never forms a dense matrix (3.2 GB); the peak memory "
     "allocated during each solve (tracemalloc, which sees NumPy's buffers) is reported, "
     "on top of the problem's own index and data arrays.", altmin_scaling_table),
    ("## Alternating minimisation: time per iteration as k grows",
     "4000 × 4000, 1.6·10⁶ uniformly observed entries (400 a row), noiseless rank-k truth, "
     "one BLAS thread, tol 1e-10. Time per iteration is the median over the run (the "
     "spectral initialisation is excluded); each iteration also computes the residual on "
     "Ω (O(|Ω| k)). The exact solver forms every row's k × k Gram matrix (O(|Ω| k²) plus "
     "O(n k³)); the approximate one (paper 6: alternating minimisation that tolerates "
     "inexact regressions) runs a few Jacobi-preconditioned CG steps per row, warm-started "
     "from the previous factor, each O(|Ω| k), all steps of a group of rows while its "
     "block of partner rows stays in cache. Measured beside other jobs on this 2-core "
     "machine.", altmin_rank_table),
    ("## Robust PCA: lrkit against tensorly",
     "Candès et al.'s test problem: L = XYᵀ with Gaussian factors, S with random signs on "
     "5 % of entries. tensorly's default ℓ1 weight does not scale with n; the second "
     "tensorly row uses the PCP weight 1/√n.", rpca_table),
    ("## Ratings: MovieLens-100k",
     "100 000 ratings (1–5) of 1 682 films by 943 users (the copy inside the recbole wheel); "
     "5 folds of a seeded permutation, every method on the same folds, predictions clipped "
     "to [1, 5]. lrkit's defaults: biases plus rank-k factors by weighted-λ ALS, 5 fits "
     "averaged, rank, ridge and sweeps chosen on 15 % of each training fold by a "
     "warm-started ridge path whose best state then runs 2 sweeps on all of the fold (the "
     "time includes that search). Before the path and the ensemble solver (one sparse "
     "product and a vectorised Cholesky for all five fits), the same defaults took 9.58 s "
     "a fold for RMSE 0.9092. lrkit runs first, so its first fold includes the process's "
     "one-time warm-up (about 0.4 s); over three runs of this section its time per fold "
     "ranged from 1.34 to 1.87 s, Surprise SVD's from 1.72 to 1.85 s. Surprise "
     "(scikit-surprise, built from its source "
     "distribution) with its defaults; fancyimpute on the dense matrix with NaN.",
     movielens_table),
    ("## Matrix completion defaults on generic low-rank data",
     "Gaussian rank-r truth scaled to unit entries, entries observed uniformly, Gaussian "
     "noise of the given level on the observed ones. `MatrixCompletion()` weighs the biased "
     "ratings model against a plain low-rank one (altmin, ridge 0, rank by a held-out "
     "local search from the spectral-gap rank) on the same held-out entries and keeps the "
     "better; before that change it was the biased model alone (second row of each "
     "problem).", generic_defaults_table),
    ("## Robust PCA: time as n grows",
     "Principal component pursuit (inexact ALM) on Candès et al.'s problem with rank n/20 and "
     "5 % corruptions, one BLAS thread. Its partial SVDs are subspace iterations warm-started "
     "from the previous step's singular vectors, with the rank predicted (last count above "
     "the threshold plus one, or 5 % of n more when all computed values exceeded it) instead "
     "of searched. Before this change: 1.1, 3.8 and 47 s (full or repeated cold partial "
     "SVDs; a first-iteration rank of 640 at n = 2000). The work per iteration is "
     "O(n² r), so with r = n/20 the time may grow as n³ (8× per doubling) at most.",
     rpca_scaling_table),
    ("## Denoising: rotation-invariant estimator against thresholding",
     "Y = S + Z with unit Gaussian noise; relative error ||Ŝ − S||_F / ||S||_F. The oracle "
     "keeps Y's singular vectors with the best possible values uᵢᵀ S vᵢ; `rie` estimates "
     "those from Y alone (OptShrink's D-transform for low-rank signals; Bun, Allez, Bouchaud "
     "& Potters for the symmetric extensive-rank one, paper 19's denoiser). Noise level "
     "estimated from the median singular value (given for the extensive-rank case).",
     denoising_table),
    ("## Real data: ratings and image inpainting",
     "Big Five inventory (psych::bfi from the pydataset package: 2 800 people × 25 items, "
     "answers 1–6), 20 % of the answers held out; InstEval (lme4, 2 972 students × 1 128 "
     "lecturers, 73 k ratings 1–5), 10 % held out. Image: scikit-learn's china.jpg in "
     "grayscale, pixels observed uniformly at random.", real_data_table),
]
