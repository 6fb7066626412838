"""Q-functions of Markov decision processes by low-rank value iteration (paper 43).

With a generative model (any state–action pair can be sampled), Shah, Song, Xu & Yang
(2020) run value iteration on the Q-matrix (states × actions) but estimate each iterate on
anchor lines only: every action of a few anchor states, and every state under a few anchor
actions,

    Q_t(s, a) ≈ r(s, a) + γ · mean_{i ≤ N} V_{t−1}(s'_i),   s'_i ~ P(· | s, a),  (s, a) on the
    anchor lines;
    Q̂_t = C W⁺ R (the ℓ∞ estimator of :mod:`lrkit.recovery.linf`),  V_t(s) = max_a Q̂_t(s, a).

When the optimal Q-function has low rank, the ℓ∞ control of each step keeps the errors from
compounding, and the samples needed fall from every pair to the anchor lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_choice, check_int, check_real
from lrkit.recovery.linf import cross_estimate
from lrkit.registry import declare
from lrkit.result import Outcome, Status, timed

Q_METHODS = declare("estimate_q", "Q-functions of a low-rank MDP (paper 43)", {
    "lowrank": "sample anchor lines only, complete by the entrywise (ℓ∞) estimator",
    "tabular": "sample every pair (empirical value iteration, the baseline)",
})

#: Value iteration counts as converged once ``γ^T`` is below this.
CONTRACTION_LEFT = 1e-2


@dataclass
class QEstimate(Outcome):
    """Result of :func:`estimate_q`.

    Attributes
    ----------
    q : numpy.ndarray, shape (n_states, n_actions)
    value, policy : numpy.ndarray, shape (n_states,)
        ``max_a q`` and ``argmax_a q``.
    samples : int
        Transitions drawn from the generative model in total.
    history : dict
        ``change``: ``max |Q_t − Q_{t−1}|`` per iteration.
    converged : bool
        The ``n_iter`` contractions left a bias of at most ``γ^T`` of the start
        (``≤ 1e-2``); else ``status`` is ``MAX_ITER`` and ``message`` asks for more.
    """

    q: np.ndarray
    value: np.ndarray
    policy: np.ndarray
    samples: int


@timed
def estimate_q(rewards, sample_next, gamma, rank=None, *, method="lowrank", anchors=None,
               samples_per_entry=50, n_iter=30, seed=None):
    """Estimate the optimal Q-function of an MDP from a generative model.

    Parameters
    ----------
    rewards : array_like, shape (n_states, n_actions)
        Expected reward of each pair.
    sample_next : callable(states, actions, n, rng) -> int array of shape (len(states), n)
        The generative model: ``n`` next states of each pair.
    gamma : float in [0, 1)
    rank : int, optional
        Rank of the Q-function (``method="lowrank"``).
    method : {"lowrank", "tabular"}
        ``"lowrank"``: sample the anchor lines only and complete by the ℓ∞ estimator;
        ``"tabular"``: sample every pair (plain empirical value iteration).
    anchors : int, optional
        Anchor states and actions (``"lowrank"``); default ``2 · rank`` (at most the counts).
    samples_per_entry : int
        Next states drawn per sampled pair and iteration.
    n_iter : int
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    QEstimate
    """
    rewards = np.asarray(rewards, dtype=float)
    if rewards.ndim != 2 or not np.all(np.isfinite(rewards)):
        raise ValueError("rewards must be a finite (n_states, n_actions) array")
    gamma = check_real("gamma", gamma, 0.0, 1.0, high_open=True)
    check_choice("method", method, Q_METHODS)
    samples_per_entry = check_int("samples_per_entry", samples_per_entry, 1)
    n_iter = check_int("n_iter", n_iter, 1)
    n_states, n_actions = rewards.shape
    rng = as_generator(seed)
    if method == "lowrank":
        if rank is None:
            raise ValueError("method='lowrank' needs rank=; or use method='tabular'")
        rank = check_int("rank", rank, 1, min(rewards.shape))
        count = check_int("anchors", anchors if anchors is not None else 2 * rank, rank,
                          min(rewards.shape))
        anchor_states = np.sort(rng.choice(n_states, count, replace=False))
        anchor_actions = np.sort(rng.choice(n_actions, count, replace=False))
        mask = np.zeros(rewards.shape, dtype=bool)
        mask[anchor_states, :] = True
        mask[:, anchor_actions] = True
    else:
        mask = np.ones(rewards.shape, dtype=bool)
    states, actions = np.nonzero(mask)
    value = np.zeros(n_states)
    q = rewards.copy()
    changes = []
    for _ in range(n_iter):
        following = sample_next(states, actions, samples_per_entry, rng)
        observed = rewards[states, actions] + gamma * value[following].mean(axis=1)
        if method == "lowrank":
            sampled = np.zeros(rewards.shape)
            sampled[states, actions] = observed
            F, G, _ = cross_estimate(sampled[:, anchor_actions],
                                     sampled[np.ix_(anchor_states, anchor_actions)],
                                     sampled[anchor_states], rank)
            new = F @ G.T
        else:
            new = np.empty(rewards.shape)
            new[states, actions] = observed
        changes.append(float(np.abs(new - q).max()))
        q = new
        value = q.max(axis=1)
    bias = gamma**n_iter
    good = bias <= CONTRACTION_LEFT
    return QEstimate(q, value, q.argmax(axis=1), n_iter * len(states) * samples_per_entry,
                     history={"change": np.asarray(changes)}, n_iter=n_iter,
                     status=Status.CONVERGED if good else Status.MAX_ITER,
                     message=f"{n_iter} sampled value iterations (γ^T = {bias:.1e})" if good
                     else f"n_iter={n_iter} leaves γ^T = {bias:.2g} of the start: raise "
                          "n_iter")
