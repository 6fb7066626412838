"""Ratings and recommendation: :class:`MatrixCompletion` (explicit ratings: biased ALS-WR,
observed-input readers, early stopping, the Dask fit; also a scikit-learn imputer),
:class:`ImplicitALS` (implicit feedback), top-N recommendation and ranking metrics."""

from lrkit._lazy import lazy_names

_RANKING = "lrkit.ratings.ranking"
__getattr__, __dir__ = lazy_names(__name__, {
    "MatrixCompletion": "lrkit.ratings.estimator",
    "ImplicitALS": "lrkit.ratings.implicit",
    "recommendations": "lrkit.ratings.recommend",
    "held_out_by_user": "lrkit.ratings.recommend",
    "items_by_user": "lrkit.ratings.recommend",
    "cross_validate": "lrkit.ratings.evaluation",
    "fold_of_entries": "lrkit.ratings.evaluation",
    "precision_at_k": _RANKING, "recall_at_k": _RANKING, "ndcg_at_k": _RANKING,
    "map_at_k": _RANKING, "ranking_report": _RANKING,
})

__all__ = ["ImplicitALS", "MatrixCompletion", "cross_validate", "fold_of_entries",
           "held_out_by_user",
           "items_by_user", "map_at_k", "ndcg_at_k", "precision_at_k", "ranking_report",
           "recall_at_k", "recommendations"]
