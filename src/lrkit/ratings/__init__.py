"""Matrix completion as a scikit-learn imputer and a ratings model: :class:`MatrixCompletion`
(biased ALS-WR, observed-input readers, early stopping, the Dask fit)."""

from lrkit._lazy import lazy_names

__getattr__, __dir__ = lazy_names(__name__, {"MatrixCompletion": "lrkit.ratings.estimator"})

__all__ = ["MatrixCompletion"]
