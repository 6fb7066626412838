"""Ranking metrics of recommendations: precision, recall, NDCG and average precision at
``k``, averaged over the users with held-out items (Manning, Raghavan & Schütze, ch. 8;
NDCG with binary relevance, Järvelin & Kekäläinen 2002)."""

from __future__ import annotations

import numpy as np

from lrkit._validation import check_int


def _per_user(recommended, relevant, k):
    """``(hits, lists, relevant sets)`` of the users with at least one relevant item:
    ``hits[u]`` marks which of ``recommended[u][:k]`` are in ``relevant[u]``."""
    k = check_int("k", k, 1)
    rows = []
    for user, items in relevant.items():
        wanted = set(np.asarray(items).tolist())
        if not wanted:
            continue
        top = list(recommended.get(user, []))[:k]
        rows.append((np.array([item in wanted for item in top], dtype=bool), wanted))
    if not rows:
        raise ValueError("relevant holds no user with a relevant item")
    return rows, k


def precision_at_k(recommended, relevant, k=10):
    """Mean over users of ``|top-k ∩ relevant| / k``.

    Parameters
    ----------
    recommended : dict of user -> sequence of items, best first
    relevant : dict of user -> collection of held-out relevant items
    k : int
    """
    rows, k = _per_user(recommended, relevant, k)
    return float(np.mean([hits.sum() / k for hits, _ in rows]))


def recall_at_k(recommended, relevant, k=10):
    """Mean over users of ``|top-k ∩ relevant| / min(k, |relevant|)`` (so that a perfect
    list scores 1 also for users with more than ``k`` relevant items)."""
    rows, k = _per_user(recommended, relevant, k)
    return float(np.mean([hits.sum() / min(k, len(wanted)) for hits, wanted in rows]))


def ndcg_at_k(recommended, relevant, k=10):
    """Mean over users of ``DCG@k / ideal DCG@k`` with ``DCG = Σ_i hit_i / log2(i + 1)``
    (positions from 1)."""
    rows, k = _per_user(recommended, relevant, k)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    scores = [float(hits @ discount[:hits.size]) / float(discount[:min(k, len(wanted))].sum())
              for hits, wanted in rows]
    return float(np.mean(scores))


def map_at_k(recommended, relevant, k=10):
    """Mean average precision: over users, ``Σ_i precision@i · hit_i / min(k, |relevant|)``."""
    rows, k = _per_user(recommended, relevant, k)
    scores = []
    for hits, wanted in rows:
        precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
        scores.append(float((precision * hits).sum()) / min(k, len(wanted)))
    return float(np.mean(scores))


def ranking_report(recommended, relevant, k=10):
    """``{"precision@k": …, "recall@k": …, "ndcg@k": …, "map@k": …}``."""
    return {f"{name}@{k}": metric(recommended, relevant, k) for name, metric in (
        ("precision", precision_at_k), ("recall", recall_at_k), ("ndcg", ndcg_at_k),
        ("map", map_at_k))}
