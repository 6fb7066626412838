"""Side-by-side benchmarks; writes docs/benchmarks.md.

Matrix sensing (issue: foundation):
1. Per-iteration time of lrkit's factored GD against the physical floor: the two dense
   products with the m × (n1 n2) sensing matrix (A x and Aᵀ r) that any method using this
   operator must pay per iteration. Reported as a ratio, over a grid of n and m.
2. lrkit against the convex baseline a user might try: nuclear-norm minimisation
   (min ||X||_* s.t. A(X) = y) with cvxpy, on a small instance, time and error.

Run: ``make bench`` (or ``python bench/run.py --out docs/benchmarks.md``).
"""

from __future__ import annotations

import argparse
import platform
import re
import time
import unicodedata
import warnings
from pathlib import Path

import numpy as np
from calibration import SECTIONS as CALIBRATION_SECTIONS
from completion import SECTIONS as COMPLETION_SECTIONS
from estimation import SECTIONS as ESTIMATION_SECTIONS
from imaging import SECTIONS as IMAGING_SECTIONS
from recommend import SECTIONS as RECOMMEND_SECTIONS
from scaleout import SECTIONS as SCALEOUT_SECTIONS
from spectral import SECTIONS as SPECTRAL_SECTIONS
from timing import best_time

import lrkit


def gd_per_iteration(n, m, rank=3, iters=200):
    prob = lrkit.problems.sensing(n, n, rank, m, seed=0)
    op = prob.operator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = lrkit.recover(op, prob.y, rank, method="gd", max_iter=iters, tol=0.0, seed=0)
    per_iter = res.wall_time / res.n_iter
    x = np.random.default_rng(0).standard_normal(n * n)
    r = np.random.default_rng(1).standard_normal(m)
    floor = best_time(lambda: (op.matrix @ x, op.matrix.T @ r), repeat=20)
    return per_iter, floor


def sensing_floor_table():
    rows = ["| n1 = n2 | m | lrkit GD per iteration (ms) | floor: A x + Aᵀ r (ms) | ratio |",
            "|---:|---:|---:|---:|---:|"]
    for n, m in [(30, 900), (60, 1800), (60, 3600), (100, 3000), (100, 6000), (150, 9000)]:
        per_iter, floor = gd_per_iteration(n, m)
        rows.append(f"| {n} | {m} | {1e3 * per_iter:.3f} | {1e3 * floor:.3f} | "
                    f"{per_iter / floor:.2f} |")
    return "\n".join(rows)


def convex_baseline_table():
    import cvxpy as cp

    rows = ["| n1 × n2, rank, m | solver | time (s) | rel. error |", "|---|---|---:|---:|"]
    for n1, n2, rank, m in [(20, 15, 2, 300), (40, 30, 2, 900)]:
        prob = lrkit.problems.sensing(n1, n2, rank, m, seed=0)
        A = prob.operator.matrix
        X = cp.Variable((n1, n2))
        problem = cp.Problem(cp.Minimize(cp.normNuc(X)), [A @ cp.vec(X, order="C") == prob.y])
        start = time.perf_counter()
        problem.solve()
        elapsed = time.perf_counter() - start
        error = np.linalg.norm(X.value - prob.truth) / np.linalg.norm(prob.truth)
        label = f"{n1} × {n2}, r={rank}, m={m}"
        rows.append(f"| {label} | cvxpy nuclear norm ({problem.solver_stats.solver_name}) | "
                    f"{elapsed:.2f} | {error:.1e} |")
        for method in ("gd", "scaled_gd"):
            res = lrkit.recover(prob.operator, prob.y, rank, method=method, truth=prob.truth,
                                seed=0)
            rows.append(f"| {label} | lrkit {method} | {res.wall_time:.3f} | "
                        f"{res.rel_error:.1e} |")
    return "\n".join(rows)


def matrix_with_values(n1, n2, s, seed=0):
    """``U diag(s) Vᵀ`` with random orthonormal ``U``, ``V`` of ``min(n1, n2)`` columns."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n1, min(n1, n2))))
    V, _ = np.linalg.qr(rng.standard_normal((n2, min(n1, n2))))
    return (U * s) @ V.T, s


def matrix_with_spectrum(n1, n2, decay, seed=0):
    return matrix_with_values(n1, n2, np.arange(1, min(n1, n2) + 1, dtype=float) ** -decay,
                              seed)


def small_gap_matrix(n1=3000, n2=2000, length=80, noise=1e-3, seed=0):
    """Issue 17's hard case: a rank-80 signal with condition number 1e3 (neighbouring
    values 0.92 apart, a small gap at any k) plus Gaussian noise of 1e-3 per entry."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n1, length)))
    V, _ = np.linalg.qr(rng.standard_normal((n2, length)))
    A = (U * np.logspace(0, -3, length)) @ V.T + noise * rng.standard_normal((n1, n2))
    return A, np.linalg.svd(A, compute_uv=False)


def fast_decay_matrix(n1=3000, n2=2000, seed=0):
    """A dense matrix with the fast decaying spectrum ``s_i = exp(−i / 10)``."""
    return matrix_with_values(n1, n2, np.exp(-np.arange(min(n1, n2)) / 10.0), seed)


def cluster_matrix(k, n1=3000, n2=2000, seed=0):
    """``s_i = i^-1/2`` except a cluster of 6 equal values straddling the cut (``σ_k−2 …
    σ_k+3`` all equal to ``σ_k``): Lanczos from one start vector finds one copy."""
    s = np.arange(1, min(n1, n2) + 1, dtype=float) ** -0.5
    s[k - 3:k + 3] = s[k - 1]
    return matrix_with_values(n1, n2, s, seed)


def sparse_ratings_like(n1=50_000, n2=20_000, nnz=1_000_000, seed=0):
    """A 50 000 × 20 000 sparse matrix with 10⁶ non-zeros placed as in ratings data
    (columns drawn with probability ∝ (j + 1)^-0.8, rows uniformly; values 1 + N(0, 1)),
    whose singular values decay as real data's do."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    popularity = np.arange(1, n2 + 1, dtype=float) ** -0.8
    cols = rng.choice(n2, nnz, p=popularity / popularity.sum())
    rows = rng.integers(0, n1, nnz)
    A = sp.csr_matrix((1.0 + rng.standard_normal(nnz), (rows, cols)), shape=(n1, n2))
    A.sum_duplicates()
    return A


def _frobenius_error(A, U, s, Vt):
    """``||A − U diag(s) Vt||_F`` without forming a dense copy of a sparse ``A``."""
    import scipy.sparse as sp

    if not sp.issparse(A):
        return float(np.linalg.norm(A - (U * s) @ Vt))
    total = sp.linalg.norm(A) ** 2
    cross = np.einsum("ik,ik->k", U, np.asarray(A @ Vt.T))
    gram = (U.T @ U) * (Vt @ Vt.T)
    return float(np.sqrt(max(total - 2 * s @ cross + s @ gram @ s, 0.0)))


#: The issue's target: lrkit ``auto`` at least this much faster than the fastest peer whose
#: excess error is below ``ACCURATE``.
SPEEDUP_TARGET, ACCURATE = 1.2, 1e-6
#: Excess errors this close count as equal ("as accurate").
ROUNDING = 1e-12


def svd_engines_table():
    import scipy.sparse as sp
    from scipy.sparse.linalg import svds
    from sklearn.utils.extmath import randomized_svd
    from threadpoolctl import threadpool_limits

    engines = {
        "lrkit.svd (auto)": lambda A, k: lrkit.svd(A, k, seed=0),
        "lrkit.svd (lanczos)": lambda A, k: lrkit.svd(A, k, method="lanczos", seed=0),
        "lrkit.svd (krylov, tol 1e-8)": lambda A, k: lrkit.svd(A, k, method="krylov", seed=0),
        "lrkit.svd (randomized)": lambda A, k: lrkit.svd(A, k, method="randomized", seed=0),
        "sklearn randomized_svd": lambda A, k: randomized_svd(A, k, random_state=0),
        "scipy svds (ARPACK)": lambda A, k: svds(A, k, solver="arpack", random_state=0),
        "scipy svds (PROPACK)": lambda A, k: svds(A, k, solver="propack", random_state=0),
        "numpy.linalg.svd (full)": lambda A, k: np.linalg.svd(A, full_matrices=False),
    }
    problems = [(f"{n1} × {n2}, s_i = i^-1/2", k, 2, lambda n1=n1, n2=n2, k=k:
                 matrix_with_spectrum(n1, n2, decay=0.5))
                for n1, n2, k in [(1000, 500, 10), (3000, 2000, 20), (3000, 2000, 50),
                                  (2000, 2000, 100)]]
    problems += [("3000 × 2000, rank-80 signal, cond 1e3, + 1e-3 noise", 20, threads,
                  lambda k=20: small_gap_matrix()) for threads in (1, 2)]
    problems += [("3000 × 2000, s_i = exp(−i/10)", k, 2, lambda k=k: fast_decay_matrix())
                 for k in (10, 50)]
    problems += [("3000 × 2000, s_i = i^-1/2, 6 equal values at the cut", k, 2,
                  lambda k=k: cluster_matrix(k)) for k in (10, 50)]
    problems += [("50 000 × 20 000 sparse, 10⁶ non-zeros", k, 2,
                  lambda k=k: (sparse_ratings_like(), None)) for k in (10, 50)]
    rows = ["| matrix | k | BLAS threads | engine | time (s) | excess error |",
            "|---|---:|---:|---|---:|---:|"]
    verdicts = []
    for label, k, threads, make in problems:
        A, s_true = make(k=k)
        if s_true is None:  # sparse: the optimum from a converged run (residuals 1e-12 σ₁)
            s_true = lrkit.svd(A, k, method="krylov", tol=1e-12, seed=1)[1]
            optimal = np.sqrt(sp.linalg.norm(A) ** 2 - np.sum(s_true**2))
        else:
            optimal = np.sqrt(np.sum(s_true[k:] ** 2))
        timings = {}
        with threadpool_limits(threads):
            for name, engine in engines.items():
                if sp.issparse(A) and name == "numpy.linalg.svd (full)":
                    continue  # 8 GB dense
                elapsed = best_time(lambda engine=engine, A=A, k=k: engine(A, k), repeat=3)
                U, s, Vt = engine(A, k)
                order = np.argsort(s)[::-1][:k]
                excess = _frobenius_error(A, U[:, order], s[order], Vt[order]) / optimal - 1
                timings[name] = (elapsed, max(excess, 0.0))
                rows.append(f"| {label} | {k} | {threads} | {name} | {elapsed:.3f} | "
                            f"{max(excess, 0.0):.1e} |")
        verdicts.append(_svd_verdict(f"{label}, k = {k}, {threads} thread(s)", timings))
    return "\n".join(rows + ["", "Targets, per matrix (lrkit `auto` at least "
                              f"{SPEEDUP_TARGET}× faster than the fastest peer with excess "
                              f"error below {ACCURATE:g}; no other lrkit engine both as "
                              "accurate as `auto` and faster):", ""] + verdicts)


def _svd_verdict(problem, timings):
    accurate = {name: t for name, (t, excess) in timings.items() if excess < ACCURATE}
    peers = {name: t for name, t in accurate.items() if not name.startswith("lrkit")}
    ours = {name: t for name, t in accurate.items() if name.startswith("lrkit")}
    auto, auto_excess = timings["lrkit.svd (auto)"]
    peer = min(peers, key=peers.get)
    ratio = peers[peer] / auto
    # "as accurate": an excess error within rounding of auto's
    rivals = {name: t for name, t in ours.items() if timings[name][1] <= auto_excess + ROUNDING}
    fastest = min(rivals, key=rivals.get)
    choice = ("yes" if rivals[fastest] >= 0.9 * auto
              else f"no: {fastest} {rivals[fastest]:.3f} s against {auto:.3f} s")
    status = "met" if "lrkit.svd (auto)" in accurate and ratio >= SPEEDUP_TARGET else "not met"
    return (f"- {problem}: {status}, {ratio:.2f}× the fastest accurate peer ({peer}); "
            f"no lrkit engine as accurate as auto and more than 10 % faster: {choice}.")


def dask_svd_table():
    import dask.array as da

    n1, n2, k = 50_000, 1_000, 20
    A, s_true = matrix_with_spectrum(n1, n2, decay=0.5)
    optimal = np.sqrt(np.sum(s_true[k:] ** 2))
    D = da.from_array(A, chunks=(5_000, n2))
    engines = {
        "lrkit.svd (Dask, block Krylov, tol 1e-8)": lambda: _computed(
            lrkit.svd(D, k, seed=0)),
        "dask svd_compressed (defaults: no power iteration)": lambda: _computed(
            da.linalg.svd_compressed(D, k, seed=0)),
        "dask svd_compressed (n_power_iter=4)": lambda: _computed(
            da.linalg.svd_compressed(D, k, n_power_iter=4, seed=0)),
        "lrkit.svd (in memory, auto)": lambda: lrkit.svd(A, k, seed=0),
    }
    rows = ["| engine | time (s) | error / optimal |", "|---|---:|---:|"]
    for name, engine in engines.items():
        start = time.perf_counter()
        U, s, Vt = engine()
        elapsed = time.perf_counter() - start
        ratio = np.linalg.norm(A - (U * s) @ Vt) / optimal
        rows.append(f"| {name} | {elapsed:.2f} | {ratio:.4f} |")
    return "\n".join(rows)


def kronecker_spectrum_matrix(blocks_a=(1000, 100), blocks_b=(100, 100), rows_per_chunk=2000,
                              seed=0):
    """A Dask matrix ``A_a ⊗ A_b`` (10⁵ × 10⁴ by default) whose spectrum is known exactly:
    the products ``σ_a,i σ_b,j`` of the factors' singular values (here ``i^{-1/2}``, with a
    5 % random jitter so that no two products tie). Each row chunk is built when a pass
    reads it (``kron`` of a few rows of ``A_a`` with ``A_b``), so the matrix never sits in
    memory."""
    import dask
    import dask.array as da

    rng = np.random.default_rng(seed)

    def factor(shape):
        U, _ = np.linalg.qr(rng.standard_normal((shape[0], shape[1])))
        V, _ = np.linalg.qr(rng.standard_normal((shape[1], shape[1])))
        s = np.arange(1, shape[1] + 1) ** -0.5 * np.exp(0.05 * rng.standard_normal(shape[1]))
        return (U * s) @ V.T, s

    A_a, s_a = factor(blocks_a)
    A_b, s_b = factor(blocks_b)
    step = rows_per_chunk // blocks_b[0]
    chunks = [da.from_delayed(dask.delayed(np.kron)(A_a[i:i + step], A_b),
                              shape=(step * blocks_b[0], A_a.shape[1] * A_b.shape[1]),
                              dtype=float) for i in range(0, blocks_a[0], step)]
    return da.concatenate(chunks), np.sort(np.outer(s_a, s_b).ravel())[::-1]


def dask_svd_large_table(k=20):
    """lrkit's Dask SVD against dask's svd_compressed on a 10⁵ × 10⁴ matrix that is
    generated chunk by chunk (8 GB if dense), error from one extra pass."""
    import dask.array as da

    D, spectrum = kronecker_spectrum_matrix()
    optimal = np.sqrt(np.sum(spectrum[k:] ** 2))
    total = np.sum(spectrum ** 2)
    engines = {
        "lrkit.svd (Dask, block Krylov, tol 1e-4)": lambda: _computed(
            lrkit.svd(D, k, method="krylov", tol=1e-4, seed=0)),
        "lrkit.svd (Dask, block Krylov, tol 1e-8)": lambda: _computed(
            lrkit.svd(D, k, seed=0)),
        "dask svd_compressed (defaults: no power iteration)": lambda: _computed(
            da.linalg.svd_compressed(D, k, seed=0)),
        "dask svd_compressed (n_power_iter=2)": lambda: _computed(
            da.linalg.svd_compressed(D, k, n_power_iter=2, seed=0)),
        "dask svd_compressed (n_power_iter=6)": lambda: _computed(
            da.linalg.svd_compressed(D, k, n_power_iter=6, seed=0)),
    }
    rows = ["| engine | time (s) | error / optimal |", "|---|---:|---:|"]
    for name, engine in engines.items():
        start = time.perf_counter()
        U, s, Vt = engine()
        elapsed = time.perf_counter() - start
        captured = np.sum(s * np.einsum("ij,ij->j", U, (D @ Vt.T).compute()))
        error = np.sqrt(max(total - 2 * captured + np.sum(s ** 2), 0.0))
        rows.append(f"| {name} | {elapsed:.1f} | {error / optimal:.4f} |")
    return "\n".join(rows)


def _computed(parts):
    return tuple(np.asarray(part.compute() if hasattr(part, "compute") else part)
                 for part in parts)


def foundation_sections():
    return [
        ("## Matrix sensing: GD iteration cost against the physical floor",
         "Gaussian sensing (dense m × n1·n2 design), rank 3, 200 iterations. The floor is the "
         "best-of-20 time of the two products `A x` and `Aᵀ r` with the sensing matrix, which "
         "every first-order method on this operator pays once per iteration. Cost grows "
         "linearly in m·n1·n2 for both.", sensing_floor_table),
        ("## Matrix sensing: against convex nuclear-norm minimisation (cvxpy)",
         "Noiseless Gaussian sensing; cvxpy with its default conic solver and default "
         "tolerances; lrkit with default settings (small random init, tol 1e-10).",
         convex_baseline_table),
        ("## Truncated SVD engines",
         "Dense matrices with a slowly decaying spectrum s_i = i^-1/2 (the hard case for "
         "sketching), and issue 17's small-gap matrix (a rank-80 signal with condition "
         "number 1e3 plus noise) at one and two BLAS threads (the other rows use the "
         "machine's two). Time is the best of 3 runs. Excess error is ||A − A_k||_F over "
         "the Eckart–Young optimum, minus 1 (0 when below rounding). `auto` picks exact "
         "LAPACK or Lanczos (PROPACK) for dense NumPy input (`lrkit.approx."
         "choose_svd_method`); before this change it picked the randomized engine for large "
         "matrices and few values, which stopped at 1e-5 excess on these spectra. The "
         "block Krylov engine stops at a residual target (1e-8 σ₁); it is the Dask engine "
         "(few passes over the data). lrkit's randomized engine uses max(10, k) "
         "oversampling columns and 4 power iterations with re-orthonormalisation; "
         "scikit-learn's defaults are 10 oversampling columns and 4 or 7 power iterations "
         "with LU normalisation. Issue 43's matrices follow: a fast decaying spectrum, a "
         "cluster of equal values at the cut and a 50 000 × 20 000 sparse matrix with 10⁶ "
         "non-zeros (its optimum from lrkit's block Krylov engine at residuals 1e-12 σ₁, the "
         "dense cases' from the known spectrum), at k = 10 and 50; the targets' status is "
         "computed from the table.", svd_engines_table),
        ("## Scale-out: truncated SVD on Dask",
         "A 50 000 × 1 000 matrix with the slowly decaying spectrum s_i = i^-1/2, as a Dask "
         "array of 10 row blocks (threaded scheduler, this machine's 2 cores); k = 20. The "
         "Dask engines read the blocks (lrkit's: the block Krylov engine, each step one "
         "pass for A V and one for Aᵀ U, stopped by its residual test); the last row is "
         "the in-memory engine on the same "
         "matrix. Error is ||A − A_k||_F over the Eckart–Young optimum.", dask_svd_table),
        ("## Scale-out: truncated SVD of a 10⁵ × 10⁴ matrix on Dask",
         "A 100 000 × 10 000 matrix (8 GB if dense) built chunk by chunk as a Kronecker "
         "product A_a ⊗ A_b, so that its spectrum (products of i^-1/2 with a 5 % jitter, "
         "slowly decaying, no ties) is known exactly and the matrix never sits in memory: "
         "50 row chunks of 2 000 rows, each generated whenever a pass reads it (threaded "
         "scheduler, 2 cores); k = 20. Error from one extra pass, "
         "||A − U S Vᵀ||² = ||A||² − 2 Σ s_i u_iᵀ A v_i + Σ s_i², over the Eckart–Young "
         "optimum.", dask_svd_large_table),
    ]


def nn_sections():
    """The network sections (compression, adapters, federated, training), when PyTorch, transformers
    and the model exist."""
    try:
        from adapters import SECTIONS as ADAPTER_SECTIONS
        from attention import SECTIONS as ATTENTION_SECTIONS
        from compressed_finetune import SECTIONS as FINETUNE_SECTIONS
        from federated import SECTIONS as FEDERATED_SECTIONS
        from nn import SECTIONS
        from training import SECTIONS as TRAINING_SECTIONS
    except ImportError as error:
        return [("## Network compression", f"skipped: {error}", lambda: "")]
    return (SECTIONS + ATTENTION_SECTIONS + ADAPTER_SECTIONS + FINETUNE_SECTIONS
            + FEDERATED_SECTIONS + TRAINING_SECTIONS)


#: Every section's output as it was measured, with the machine and the date: the raw
#: numbers behind each table of docs/benchmarks.md (runs that take minutes also keep their
#: per-run measurements under bench/results/<section>/, see bench/trials.py).
SECTION_RESULTS = Path("bench/results/sections")


def keep_section(title, text):
    """Write one section's output to ``bench/results/sections/<slug>.md``."""
    ascii_title = unicodedata.normalize("NFKD", title.removeprefix("## ")).encode(
        "ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    SECTION_RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = (f"<!-- measured {time.strftime('%Y-%m-%d %H:%M')} on "
             f"{platform.processor() or platform.machine()}, Python "
             f"{platform.python_version()}, NumPy {np.__version__} -->")
    (SECTION_RESULTS / f"{slug}.md").write_text(f"{stamp}\n{text.rstrip()}\n",
                                                encoding="utf-8")


def replace_sections(text, new_sections):
    """``text`` (a benchmarks.md) with the ``## `` sections named in ``new_sections``
    (title -> full section text) replaced, and new ones appended; other sections keep their
    earlier run."""
    parts = text.split("\n## ")
    head, rest = parts[0], parts[1:]
    seen = set()
    for index, part in enumerate(rest):
        title = "## " + part.split("\n", 1)[0]
        if title in new_sections:
            rest[index] = new_sections[title].removeprefix("## ").rstrip("\n") + "\n"
            seen.add(title)
    rest[-1] = rest[-1].rstrip("\n") + "\n"
    rest += [section.removeprefix("## ").rstrip("\n") + "\n"
             for title, section in new_sections.items() if title not in seen]
    return "\n## ".join([head, *rest]).rstrip("\n") + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/benchmarks.md")
    parser.add_argument("--only", help="run only the sections whose title contains this text "
                        "and replace them in --out (the other sections are kept)")
    args = parser.parse_args()
    parts = [
        "# lrkit benchmarks",
        f"Machine: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, NumPy {np.__version__}. Generated by `make bench` "
        "(bench/run.py); every row of a table comes from one process on the same inputs.",
    ]
    chosen = {}
    for title, intro, table in (foundation_sections() + COMPLETION_SECTIONS + RECOMMEND_SECTIONS
                                + SCALEOUT_SECTIONS
                                + IMAGING_SECTIONS + ESTIMATION_SECTIONS
                                + CALIBRATION_SECTIONS + SPECTRAL_SECTIONS + nn_sections()):
        if args.only and args.only.lower() not in title.lower():
            continue
        print(title, flush=True)
        chosen[title] = "\n\n".join([title, intro, table()])
        print(chosen[title], flush=True)
        keep_section(title, chosen[title])
    if args.only:
        with open(args.out, encoding="utf-8") as handle:
            text = replace_sections(handle.read(), chosen)
    else:
        text = "\n\n".join(parts + list(chosen.values())) + "\n"
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
