"""Seeded matrix-completion problems: a low-rank truth observed on random entries."""

from __future__ import annotations

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_int, check_rank, check_real
from lrkit.operators import CrossSampling, EntrySampling
from lrkit.problems._sensing import SensingProblem, low_rank_matrix


def completion(n1, n2, rank, p_obs=None, *, m=None, cond=1.0, noise_std=0.0, seed=None):
    """Generate a seeded matrix-completion problem.

    Parameters
    ----------
    n1, n2 : int
        Shape of the unknown matrix.
    rank : int
        Rank of the truth ``U diag(s) Vᵀ`` (Haar-random U, V; ``s`` from 1 to ``1/cond``).
    p_obs : float in (0, 1], optional
        Fraction of entries observed (uniformly, without replacement). Give this or ``m``.
    m : int, optional
        Number of observed entries.
    cond : float, default 1
    noise_std : float, default 0
        Gaussian noise, as a fraction of the RMS of the observed clean entries.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    SensingProblem
        ``operator`` is an :class:`~lrkit.operators.EntrySampling`.
    """
    n1, n2 = check_int("n1", n1, 1), check_int("n2", n2, 1)
    rank = check_rank(rank, (n1, n2))
    if (p_obs is None) == (m is None):
        raise ValueError("give exactly one of p_obs (fraction observed) and m (entry count)")
    if p_obs is not None:
        p_obs = check_real("p_obs", p_obs, low=0.0, high=1.0, low_open=True)
        m = max(1, round(p_obs * n1 * n2))
    m = check_int("m", m, 1)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    rng = as_generator(seed)
    truth = low_rank_matrix(n1, n2, rank, check_real("cond", cond, low=1.0), seed=rng)
    operator = EntrySampling.random(n1, n2, m, seed=rng)
    clean = operator.forward(truth)
    rms = float(np.sqrt(np.mean(clean**2)))
    y = clean + noise_std * rms * rng.standard_normal(m)
    return SensingProblem(operator, y, truth, rank, np.zeros(m, dtype=bool))


def cross_completion(n1, n2, rank, anchors=None, *, noise=0.0, cond=1.0, seed=None):
    """A low-rank truth observed on whole anchor rows and columns (``method="linf"``).

    Parameters
    ----------
    n1, n2, rank : int
    anchors : int, optional
        Anchor rows and columns, chosen uniformly; default ``2 · rank``.
    noise : float, default 0
        Bounded noise: uniform on ``[−noise, noise]`` (absolute), the setting of the ℓ∞
        guarantee (paper 43).
    cond : float, default 1
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    SensingProblem
        ``operator`` is a :class:`~lrkit.operators.CrossSampling`.
    """
    n1, n2 = check_int("n1", n1, 1), check_int("n2", n2, 1)
    rank = check_rank(rank, (n1, n2))
    anchors = check_int("anchors", 2 * rank if anchors is None else anchors, rank,
                        min(n1, n2))
    noise = check_real("noise", noise, low=0.0)
    rng = as_generator(seed)
    truth = low_rank_matrix(n1, n2, rank, check_real("cond", cond, low=1.0), seed=rng)
    operator = CrossSampling((n1, n2), rng.choice(n1, anchors, replace=False),
                             rng.choice(n2, anchors, replace=False))
    y = operator.forward(truth) + noise * rng.uniform(-1, 1, operator.m)
    return SensingProblem(operator, y, truth, rank, np.zeros(operator.m, dtype=bool))
