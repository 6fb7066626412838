"""Scalar summaries of a spectrum."""

from __future__ import annotations

import math

import numpy as np

from lrkit._validation import check_finite_array


def _singular_values(A):
    A = np.asarray(A, dtype=float)
    check_finite_array("A", A, ndim=2)
    return np.linalg.svd(A, compute_uv=False)


def stable_rank(A) -> float:
    """``||A||_F² / ||A||_2²`` (Rudelson & Vershynin 2007): at most the rank, robust to noise."""
    s = _singular_values(A)
    return float(np.sum(s**2) / s[0] ** 2) if s[0] > 0 else 0.0


def effective_rank(A) -> float:
    """``exp(H(p))`` with ``p_i = s_i / Σ s_j`` (Roy & Vetterli 2007): entropy-based rank."""
    s = _singular_values(A)
    total = s.sum()
    if total == 0:
        return 0.0
    p = s[s > 0] / total
    return float(math.exp(-np.sum(p * np.log(p))))


def marchenko_pastur_edge(shape, noise=1.0) -> float:
    """Largest singular value of an n1×n2 pure-noise matrix (entries of std ``noise``):
    ``noise · (√n1 + √n2)`` asymptotically (Marchenko & Pastur 1967)."""
    n1, n2 = shape
    return noise * (math.sqrt(n1) + math.sqrt(n2))
