"""A Markov decision process whose optimal Q-function has low rank (paper 43's setting)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_int, check_real


@dataclass
class LowRankMDP:
    """Rewards, transitions and the optimal Q-function of a finite MDP.

    Attributes
    ----------
    rewards : (n_states, n_actions)
    mixture : (n_states, n_actions, latent)
        ``P(s' | s, a) = Σ_k mixture[s, a, k] · emission[k, s']``.
    emission : (latent, n_states)
    gamma : float
    q_star : (n_states, n_actions)
        The optimal Q-function (value iteration to 1e-12).
    """

    rewards: np.ndarray
    mixture: np.ndarray
    emission: np.ndarray
    gamma: float
    q_star: np.ndarray

    def sample_next(self, states, actions, n, rng):
        """``n`` next states of every pair (the generative model), shape ``(len, n)``."""
        rng = as_generator(rng)
        weights = np.cumsum(self.mixture[states, actions], axis=1)
        draws = rng.random((len(states), n, 1))
        component = np.minimum((draws >= weights[:, None, :]).sum(axis=2),
                               self.emission.shape[0] - 1)
        cumulative = np.cumsum(self.emission, axis=1)
        uniform = rng.random(component.shape)
        following = np.empty(component.shape, dtype=np.int64)
        for k in range(self.emission.shape[0]):
            where = component == k
            following[where] = np.searchsorted(cumulative[k], uniform[where] * cumulative[k, -1])
        return np.minimum(following, self.emission.shape[1] - 1)


def low_rank_mdp(n_states=200, n_actions=100, latent=2, gamma=0.5, seed=None) -> LowRankMDP:
    """An MDP with low-rank transitions and rewards: ``Q*`` has rank at most ``latent + 1``.

    ``P(s'|s, a) = Σ_{k < latent} x_sk y_ak ψ_k(s') + (1 − Σ_k x_sk y_ak) ψ_last(s')`` with
    ``x, y`` in ``[0, 1/(latent − 1)]`` and random distributions ``ψ``; the reward is
    ``u_s v_a`` in ``[0, 1]``. Then ``(P V)(s, a)`` is affine in the ``latent − 1`` products
    ``x_sk y_ak`` for any ``V``, so every value-iteration iterate, and ``Q*``, has rank at
    most ``latent + 1``.
    """
    n_states = check_int("n_states", n_states, 2)
    n_actions = check_int("n_actions", n_actions, 2)
    latent = check_int("latent", latent, 2)
    gamma = check_real("gamma", gamma, 0.0, 1.0, high_open=True)
    rng = as_generator(seed)
    x = rng.uniform(0, 1, (n_states, latent - 1)) / (latent - 1)
    y = rng.uniform(0, 1, (n_actions, latent - 1))
    products = x[:, None, :] * y[None, :, :]
    mixture = np.concatenate([products, 1 - products.sum(axis=2, keepdims=True)], axis=2)
    emission = rng.dirichlet(np.full(n_states, 0.5), size=latent)
    rewards = np.outer(rng.uniform(0, 1, n_states), rng.uniform(0, 1, n_actions))
    q = rewards.copy()
    for _ in range(10_000):
        new = rewards + gamma * mixture @ (emission @ q.max(axis=1))
        done = np.abs(new - q).max() <= 1e-12
        q = new
        if done:
            break
    return LowRankMDP(rewards, mixture, emission, gamma, q)
