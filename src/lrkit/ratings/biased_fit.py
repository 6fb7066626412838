"""How :class:`~lrkit.ratings.estimator.MatrixCompletion` runs its default model,
``biased_als`` (:mod:`lrkit.ratings.biased_als`): in memory, or on a Dask DataFrame of triplets
(:mod:`lrkit.ratings.dask_fit`), and what it keeps of the fit."""

from __future__ import annotations

from lrkit.ratings.biased_als import RANKS, RIDGES, fit_ratings
from lrkit.ratings.dask_fit import fit_ratings_dask, triplet_frame
from lrkit.ratings.options import AUTO, BIASED

#: The biased model of :mod:`lrkit.ratings.biased_als`, beside the registry's completion solvers.


class BiasedFit:
    """The ``biased_als`` part of the estimator (a mixin: it uses the estimator's
    parameters, checks and column statistics)."""

    def _fit_biased(self, rows, cols, values, shape):
        """``biased_als``: the search on held-out entries, then the averaged fits. Returns
        the mask of the entries the search held out (None when it held none out)."""
        result = fit_ratings(rows, cols, values, shape, *self._candidates(shape),
                             max_sweeps=self._max_iter(BIASED), n_models=self.n_models,
                             seed=self.seed)
        self._keep_biased(result)
        return result.held_out

    def _fit_dask(self, X):
        """``biased_als`` on a Dask DataFrame of triplets (:func:`fit_ratings_dask`)."""
        self._check_params()
        if self.method not in (AUTO, BIASED) or self.center:
            raise ValueError("X as a Dask DataFrame needs method='biased_als' (or 'auto', "
                             "which is the biased model there) and "
                             f"center=False (its biases centre the data); got "
                             f"method={self.method!r}, center={self.center!r}")
        frame, summary = triplet_frame(X)
        self.user_ids_, self.item_ids_ = summary.row_ids, summary.col_ids
        self.seen_ = None  # the pairs stay on disk or on the cluster
        self._listed_features(summary.shape[1])
        self._check_empty(summary.row_counts == 0, summary.col_counts == 0, True)
        self._learn_columns(summary.row_counts, summary.col_counts, summary.col_sums,
                            summary.mean)
        self._keep_biased(fit_ratings_dask(frame, summary, *self._candidates(summary.shape),
                                           max_sweeps=self._max_iter(BIASED),
                                           n_models=self.n_models, seed=self.seed))

    def _candidates(self, shape):
        """The ranks and ridges the held-out search of ``biased_als`` tries."""
        most = max(1, min(shape) - 1)
        ranks = ([self._given_rank(shape)] if self.rank != "auto"
                 else list(dict.fromkeys(min(rank, most) for rank in RANKS)))
        return ranks, RIDGES if self.ridge is None else (float(self.ridge),)

    def _keep_biased(self, result):
        """The fitted attributes of a ``biased_als`` :class:`RatingsFit`."""
        self.method_, self.result_, model = BIASED, result.run, result.model
        self.rank_, self.ridge_, self.value_scale_ = result.rank, result.ridge, result.scale
        self.rank_scores_ = result.scores
        self.n_iter_, self.converged_ = self.result_.n_iter, self.result_.converged
        self.row_factors_, self.components_ = model.row_factors, model.col_factors
        self.row_bias_ = model.row_bias
        self.mean_ = self.mean_ + model.mean + model.col_bias
