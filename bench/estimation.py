"""Entrywise (ℓ∞) low-rank estimation and low-rank Q-value iteration (paper 43).

Each function returns one markdown section of docs/benchmarks.md.
"""

from __future__ import annotations

import time

import numpy as np

import lrkit
from lrkit.operators import EntrySampling


def _max_error(estimate, truth):
    return float(np.abs(estimate - truth).max() / np.abs(truth).max())


LINF_PLOT = "docs/linf_error.png"
Q_PLOT = "docs/q_error.png"


def linf_table():
    """Max-entry error of the anchor-line estimator against truncated SVD and AltMin on
    uniformly sampled entries, at the same number of samples, as the noise grows."""
    from lrkit.plotting import plot_error_curves

    levels = (1e-4, 1e-3, 1e-2)
    curves = {"lrkit linf (anchor lines)": [], "its first-order ℓ∞ bound": [],
              "truncated SVD (uniform entries)": [], "lrkit altmin (uniform entries)": []}
    rows = ["| noise / max entry | method | samples | max-entry error / max entry | "
            "first-order ℓ∞ bound / max entry | time (s) |", "|---:|---|---:|---:|---:|---:|"]
    for level in levels:
        prob = lrkit.problems.cross_completion(1000, 800, 5, noise=0.0, seed=0)
        scale = np.abs(prob.truth).max()
        noise = level * scale
        rng = np.random.default_rng(1)
        y = prob.y + noise * rng.uniform(-1, 1, prob.operator.m)
        start = time.perf_counter()
        res = lrkit.recover(prob.operator, y, 5, method="linf")
        elapsed = time.perf_counter() - start
        bound = noise * res.history["linf_gain"][-1] / scale
        curves["lrkit linf (anchor lines)"].append(_max_error(res.estimate, prob.truth))
        curves["its first-order ℓ∞ bound"].append(bound)
        rows.append(f"| {level:g} | lrkit linf (10 anchor rows and columns) | "
                    f"{prob.operator.m:,} | {_max_error(res.estimate, prob.truth):.1e} | "
                    f"{bound:.1e} | {elapsed:.3f} |")
        uniform = EntrySampling.random(1000, 800, prob.operator.m, seed=2)
        yu = uniform.forward(prob.truth) + noise * rng.uniform(-1, 1, uniform.m)
        start = time.perf_counter()
        U, s, Vt = lrkit.svd(uniform.adjoint(yu) / uniform.isotropy, 5, seed=0)
        elapsed = time.perf_counter() - start
        curves["truncated SVD (uniform entries)"].append(_max_error((U * s) @ Vt, prob.truth))
        rows.append(f"| {level:g} | truncated SVD of the rescaled zero-filled matrix "
                    f"(uniform entries) | {uniform.m:,} | "
                    f"{_max_error((U * s) @ Vt, prob.truth):.1e} | – | {elapsed:.3f} |")
        res = lrkit.recover(uniform, yu, 5, method="altmin", seed=0)
        curves["lrkit altmin (uniform entries)"].append(_max_error(res.estimate, prob.truth))
        rows.append(f"| {level:g} | lrkit altmin (uniform entries) | {uniform.m:,} | "
                    f"{_max_error(res.estimate, prob.truth):.1e} | – | {res.wall_time:.3f} |")
    plot_error_curves({name: (levels, values) for name, values in curves.items()}, LINF_PLOT,
                      "noise / max entry", ylabel="max-entry error / max entry", loglog=True,
                      title="1000 × 800, rank 5, equal numbers of samples")
    rows += ["", f"![max-entry error against noise]({LINF_PLOT.removeprefix('docs/')})"]
    return "\n".join(rows)


def q_table():
    """Low-rank Q-value iteration against tabular value iteration at equal samples."""
    from lrkit.plotting import plot_error_curves

    rows = ["| method | samples | max-entry error of Q̂ / max Q* | "
            "greedy policy = optimal (share of states) |", "|---|---:|---:|---:|"]
    mdp = lrkit.problems.low_rank_mdp(400, 200, latent=3, gamma=0.6, seed=0)
    optimal = mdp.q_star.argmax(axis=1)
    iterations = 20
    curves = {"lrkit estimate_q, low rank": ([], []), "tabular value iteration": ([], [])}
    for per_entry in (10, 20, 50, 100):
        low = lrkit.estimate_q(mdp.rewards, mdp.sample_next, mdp.gamma, rank=4,
                               samples_per_entry=per_entry, n_iter=iterations, seed=0)
        matched = -(-low.samples // (iterations * mdp.rewards.size))
        tabular = lrkit.estimate_q(mdp.rewards, mdp.sample_next, mdp.gamma, method="tabular",
                                   samples_per_entry=matched, n_iter=iterations, seed=0)
        for curve, result in (("lrkit estimate_q, low rank", low),
                              ("tabular value iteration", tabular)):
            curves[curve][0].append(result.samples)
            curves[curve][1].append(_max_error(result.q, mdp.q_star))
        for name, result in ((f"lrkit estimate_q, low rank ({per_entry} draws on anchor "
                              "lines)", low),
                             (f"tabular value iteration ({matched} draws per pair)", tabular)):
            rows.append(f"| {name} | {result.samples:,} | "
                        f"{_max_error(result.q, mdp.q_star):.3f} | "
                        f"{np.mean(result.policy == optimal):.2f} |")
    plot_error_curves(curves, Q_PLOT, "transitions sampled", loglog=True,
                      ylabel="max |Q̂ − Q*| / max Q*",
                      title="400 states × 200 actions, Q* of rank 4, 20 iterations")
    rows += ["", f"![Q error against samples]({Q_PLOT.removeprefix('docs/')})"]
    return "\n".join(rows)


SECTIONS = [
    ("## Entrywise estimation: anchor lines against SVD at equal samples",
     "A rank-5 1000 × 800 truth; lrkit's `linf` observes every entry of 10 random rows and "
     "10 random columns (paper 43's anchors) with bounded uniform noise and returns "
     "C W_r⁺ R; the others see the same number of uniformly random entries with the same "
     "noise. The bound is the estimator's own first-order ℓ∞ gain (the interpolation "
     "weights of the anchors) times the noise level.", linf_table),
    ("## Q-functions: low-rank value iteration against tabular at equal samples",
     "A 400-state, 200-action MDP with rank-3 transitions and a rank-1 reward "
     "(`problems.low_rank_mdp`, Q* of rank 4, γ = 0.6), generative model, 20 iterations. "
     "lrkit's `estimate_q` samples next states only for the pairs on 8 anchor states and 8 "
     "anchor actions and completes each iterate by the ℓ∞ estimator (paper 43's low-rank "
     "value iteration); tabular value iteration samples every pair, with the per-pair count "
     "rounded up so that it uses at least as many samples.", q_table),
]


PLAIN_PLOT = "docs/plain_crb.png"


def _matched_errors(estimate, truth):
    """Frequency errors (wrapped to (−π, π]) after matching estimated targets to true ones."""
    from scipy.optimize import linear_sum_assignment

    gaps = np.angle(np.exp(1j * (estimate[:, None, :] - truth[None, :, :])))
    rows, cols = linear_sum_assignment(np.abs(gaps).sum(axis=2))
    return gaps[rows, cols]


def _fft_peaks(X, rank, pad=4):
    """Joint grid search: the R largest local maxima of the zero-padded N-D periodogram."""
    from scipy.ndimage import maximum_filter

    spectrum = np.abs(np.fft.fftn(X, [pad * s for s in X.shape]))
    peaks = np.argwhere(spectrum == maximum_filter(spectrum, size=3, mode="wrap"))
    strongest = peaks[np.argsort(-spectrum[tuple(peaks.T)])[:rank]]
    return np.angle(np.exp(2j * np.pi * strongest / np.array(spectrum.shape)))


def _cp_frequencies(X, rank):
    """tensorly's CP-ALS, then each factor's frequency from its lag-one correlation."""
    from tensorly.decomposition import parafac

    _, factors = parafac(X, rank, n_iter_max=500, init="svd", tol=1e-10)
    return np.stack([np.angle((F[1:] * F[:-1].conj()).sum(axis=0)) for F in factors], axis=1)


def plain_table(trials=30):
    """RMSE of the frequencies against SNR: PLAIN, PLAIN + refinement, tensorly CP, the
    joint FFT grid, and the Cramér–Rao bound."""
    from lrkit.plotting import plot_error_curves

    snrs = (-10, 0, 10, 20, 30)
    methods = {
        "lrkit tensor_subspace (PLAIN)": lambda X: lrkit.tensor_subspace(X, 3).frequencies,
        "lrkit tensor_subspace, refine=True":
            lambda X: lrkit.tensor_subspace(X, 3, refine=True).frequencies,
        "tensorly parafac (CP-ALS) + lag-one phase": lambda X: _cp_frequencies(X, 3),
        "3-D FFT peaks (4× zero-padding)": lambda X: _fft_peaks(X, 3),
    }
    rmse = {name: [] for name in methods}
    seconds = {name: 0.0 for name in methods}
    bound = []
    for snr in snrs:
        errors = {name: [] for name in methods}
        crb = []
        for trial in range(trials):
            prob = lrkit.problems.harmonic_tensor((16, 16, 16), 3, snr, separation=0.5,
                                                  seed=trial)
            crb.append(prob.crb())
            for name, estimate in methods.items():
                start = time.perf_counter()
                found = estimate(prob.tensor)
                seconds[name] += time.perf_counter() - start
                errors[name].append(_matched_errors(found, prob.frequencies) ** 2)
        bound.append(float(np.sqrt(np.mean(crb))))
        for name in methods:
            rmse[name].append(float(np.sqrt(np.mean(errors[name]))))
    curves = {name: (snrs, values) for name, values in rmse.items()}
    curves["√CRB"] = (snrs, bound)
    plot_error_curves(curves, PLAIN_PLOT, "SNR per entry (dB)", ylabel="RMSE of μ (rad)",
                      title="16 × 16 × 16 snapshot, 3 targets 0.5 bin apart", logy=True)
    head = " | ".join(f"{s} dB" for s in snrs)
    rows = [f"| method | {head} | ms per snapshot |", "|---" + "|---:" * (len(snrs) + 1) + "|"]
    for name, values in rmse.items():
        cells = " | ".join(f"{v:.2e}" for v in values)
        rows.append(f"| {name} | {cells} | {1e3 * seconds[name] / (trials * len(snrs)):.1f} |")
    rows.append(f"| √CRB | {' | '.join(f'{v:.2e}' for v in bound)} | – |")
    return "\n".join(rows) + f"\n\n![RMSE against SNR]({PLAIN_PLOT.removeprefix('docs/')})"


SECTIONS.append(
    ("## Multidimensional parameter estimation: PLAIN against CP and the FFT grid",
     "Paper 4's single-snapshot ISAC model: a 16 × 16 × 16 tensor (e.g. antennas × "
     "subcarriers × symbols) holding 3 targets whose frequencies are only half a Fourier bin "
     "apart in every dimension (super-resolution), circular Gaussian noise, 30 seeded trials "
     "a point. Error: RMSE of all 9 frequencies after matching targets, in radians; √CRB is "
     "the deterministic Cramér–Rao bound (`HarmonicTensorProblem.crb`). Peers: tensorly's "
     "CP-ALS with each factor's frequency read from its lag-one correlation, and the "
     "joint grid search a user would otherwise run (peaks of the zero-padded 3-D FFT). "
     "CP-ALS stalls on some seeds with targets this close, which shows as outliers in its "
     "RMSE; the FFT grid cannot go below its bin-width bias.",
     plain_table))


GAMP_PLOT = "docs/gamp_rie.png"
#: Errors below this are exact recovery up to rounding; the plot draws them here.
FLOOR = 1e-8


def _quadratic_features(inputs):
    """``x_i x_j`` (i < j, times √2) and ``x_i² − 1``: the features whose linear models are
    exactly the quadratic networks, scaled so that their inner product is ⟨Z, Z'⟩."""
    d = inputs.shape[1]
    upper = np.triu_indices(d, 1)
    return np.hstack([np.sqrt(2) * inputs[:, upper[0]] * inputs[:, upper[1]],
                      inputs ** 2 - 1]) / np.sqrt(d)


def gamp_rie_table(dim=80):
    """GAMP-RIE's test error against its state evolution (paper 19's Bayes-optimal error)
    and scikit-learn's ridge regression on the quadratic features, as n / d² grows."""
    from sklearn.linear_model import RidgeCV

    from lrkit.plotting import plot_error_curves

    alphas = (0.1, 0.2, 0.3, 0.4, 0.6, 1.0)
    rows = ["| noise Δ | n / d² | theory (d → ∞) | lrkit gamp_rie | ridge, λ by CV (sklearn) | "
            "gamp_rie (s) | ridge (s) |", "|---:|---:|---:|---:|---:|---:|---:|"]
    curves = {}
    test_inputs = np.random.default_rng(99).standard_normal((4000, dim))
    for noise in (0.0, 0.5):
        fine = np.linspace(0.05, 1.0, 40)
        curves[f"theory, Δ = {noise:g}"] = (
            fine, [max(lrkit.gamp_rie_error(a, 0.5, noise)["test_error"], FLOOR) for a in fine])
        measured, ridge_errors = [], []
        for alpha in alphas:
            prob = lrkit.problems.quadratic_network(dim, 0.5, alpha, noise, seed=0)
            truth = prob.target(test_inputs)
            start = time.perf_counter()
            fit = lrkit.gamp_rie(prob.inputs, prob.labels, 0.5, noise=noise)
            gamp_time = time.perf_counter() - start
            gamp_error = float(np.mean((fit.predict(test_inputs) - truth) ** 2))
            start = time.perf_counter()
            ridge = RidgeCV(alphas=np.logspace(-4, 3, 15)).fit(_quadratic_features(prob.inputs),
                                                                 prob.labels)
            ridge_time = time.perf_counter() - start
            ridge_error = float(np.mean((ridge.predict(_quadratic_features(test_inputs))
                                         - truth) ** 2))
            theory = lrkit.gamp_rie_error(alpha, 0.5, noise)["test_error"]
            mark = "" if fit.converged else " (not converged)"
            rows.append(f"| {noise:g} | {alpha:g} | {theory:.3g} | {gamp_error:.3g}{mark} | "
                        f"{ridge_error:.3g} | {gamp_time:.1f} | {ridge_time:.1f} |")
            measured.append(max(gamp_error, FLOOR))
            ridge_errors.append(max(ridge_error, FLOOR))
        curves[f"lrkit gamp_rie, Δ = {noise:g}"] = (alphas, measured)
        curves[f"ridge on quadratic features, Δ = {noise:g}"] = (alphas, ridge_errors)
    plot_error_curves(curves, GAMP_PLOT, "samples n / d²", ylabel="test error E(f̂ − f*)²",
                      title=f"quadratic network, d = {dim}, width m = d/2 (errors below "
                      f"{FLOOR:g} drawn at {FLOOR:g})", logy=True)
    rows += ["", f"![test error against n / d²]({GAMP_PLOT.removeprefix('docs/')})"]
    return "\n".join(rows)


SECTIONS.append(
    ("## Learning a wide quadratic network: GAMP-RIE against its theory and ridge",
     "Paper 19's teacher f*(x) = (1/√m) Σ_k ((w_k·x)²/d − 1) with d = 80 inputs and m = 40 "
     "hidden units (`problems.quadratic_network`), n = α d² Gaussian samples, label noise of "
     "variance Δ; test error on 4 000 new inputs. Theory: the fixed point of GAMP-RIE's state "
     "evolution (`lrkit.gamp_rie_error`, the paper's Bayes-optimal error as d → ∞). Peer: "
     "scikit-learn's RidgeCV on the d(d+1)/2 quadratic features (the linear models that are "
     "exactly the quadratic networks), λ chosen by leave-one-out over 15 values.",
     gamp_rie_table))
