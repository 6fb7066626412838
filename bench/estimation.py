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


def linf_table():
    """Max-entry error of the anchor-line estimator against truncated SVD and AltMin on
    uniformly sampled entries, at the same number of samples, as the noise grows."""
    rows = ["| noise / max entry | method | samples | max-entry error / max entry | "
            "first-order ℓ∞ bound / max entry | time (s) |", "|---:|---|---:|---:|---:|---:|"]
    for level in (1e-4, 1e-3, 1e-2):
        prob = lrkit.problems.cross_completion(1000, 800, 5, noise=0.0, seed=0)
        scale = np.abs(prob.truth).max()
        noise = level * scale
        rng = np.random.default_rng(1)
        y = prob.y + noise * rng.uniform(-1, 1, prob.operator.m)
        start = time.perf_counter()
        res = lrkit.recover(prob.operator, y, 5, method="linf")
        elapsed = time.perf_counter() - start
        bound = noise * res.history["linf_gain"][-1] / scale
        rows.append(f"| {level:g} | lrkit linf (10 anchor rows and columns) | "
                    f"{prob.operator.m:,} | {_max_error(res.estimate, prob.truth):.1e} | "
                    f"{bound:.1e} | {elapsed:.3f} |")
        uniform = EntrySampling.random(1000, 800, prob.operator.m, seed=2)
        yu = uniform.forward(prob.truth) + noise * rng.uniform(-1, 1, uniform.m)
        start = time.perf_counter()
        U, s, Vt = lrkit.svd(uniform.adjoint(yu) / uniform.isotropy, 5, seed=0)
        elapsed = time.perf_counter() - start
        rows.append(f"| {level:g} | truncated SVD of the rescaled zero-filled matrix "
                    f"(uniform entries) | {uniform.m:,} | "
                    f"{_max_error((U * s) @ Vt, prob.truth):.1e} | – | {elapsed:.3f} |")
        res = lrkit.recover(uniform, yu, 5, method="altmin", seed=0)
        rows.append(f"| {level:g} | lrkit altmin (uniform entries) | {uniform.m:,} | "
                    f"{_max_error(res.estimate, prob.truth):.1e} | – | {res.wall_time:.3f} |")
    return "\n".join(rows)


def q_table():
    """Low-rank Q-value iteration against tabular value iteration at equal samples."""
    rows = ["| method | samples | max-entry error of Q̂ / max Q* | "
            "greedy policy = optimal (share of states) |", "|---|---:|---:|---:|"]
    mdp = lrkit.problems.low_rank_mdp(400, 200, latent=3, gamma=0.6, seed=0)
    optimal = mdp.q_star.argmax(axis=1)
    iterations = 20
    for per_entry in (20, 100):
        low = lrkit.estimate_q(mdp.rewards, mdp.sample_next, mdp.gamma, rank=4,
                               samples_per_entry=per_entry, n_iter=iterations, seed=0)
        matched = -(-low.samples // (iterations * mdp.rewards.size))
        tabular = lrkit.estimate_q(mdp.rewards, mdp.sample_next, mdp.gamma, method="tabular",
                                   samples_per_entry=matched, n_iter=iterations, seed=0)
        for name, result in ((f"lrkit estimate_q, low rank ({per_entry} draws on anchor "
                              "lines)", low),
                             (f"tabular value iteration ({matched} draws per pair)", tabular)):
            rows.append(f"| {name} | {result.samples:,} | "
                        f"{_max_error(result.q, mdp.q_star):.3f} | "
                        f"{np.mean(result.policy == optimal):.2f} |")
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
