"""How :class:`~lrkit.ratings.estimator.MatrixCompletion` fits a plain low-rank ``F Gᵀ``
(``method="altmin"`` or ``"softimpute"``, through :func:`lrkit.recover`), and how
``method="auto"`` weighs that model against the biased ratings model on the entries the
ratings search held out."""

from __future__ import annotations

import warnings

import numpy as np

from lrkit.exceptions import ConvergenceWarning
from lrkit.operators import EntrySampling
from lrkit.ratings.biased_als import value_scale
from lrkit.ratings.options import AUTO, BIASED
from lrkit.recovery.api import recover
from lrkit.recovery.completion_rank import held_out_rmse, select_completion_rank
from lrkit.recovery.registry import get_solver

#: The plain model ``method="auto"`` weighs against the biased one (exact on exactly
#: low-rank data, where the biased search's ridges and early stopping are not).
PLAIN = "altmin"


class PlainFit:
    """The plain low-rank part of the estimator (a mixin: it uses the estimator's
    parameters and column statistics)."""

    def _fit_plain(self, rows, cols, values, shape, method, rank=None, scores=None):
        """``method`` (a completion solver) at ``rank`` (chosen on held-out entries when
        None) on all the entries; ``values`` already centred."""
        operator = EntrySampling(shape, rows, cols)
        ridge = 0.0 if self.ridge is None or self.method == AUTO else float(self.ridge)
        scale = value_scale(values)  # solved on values / scale: no overflow near the limits
        values = values / scale
        if rank is None:
            rank, scores = select_completion_rank(operator, values, self.max_rank,
                                                  self.rank_rule, ridge=ridge, seed=self.seed)
        self.method_, self.rank_, self.ridge_ = method, int(rank), ridge
        self.rank_scores_ = {} if scores is None else scores
        options = {"ridge": ridge} if "ridge" in get_solver(method).options else {}
        max_iter = self._max_iter(method)
        with warnings.catch_warnings():
            # The solver's own warning is replaced by one that names the estimator.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.result_ = recover(operator, values, self.rank_, method=method,
                                   max_iter=max_iter, tol=self.tol, seed=self.seed, **options)
        self.n_iter_, self.converged_ = self.result_.n_iter, self.result_.converged
        if not self.converged_:
            warnings.warn(f"MatrixCompletion({method}) did not converge: "
                          f"{self.result_.message}; raise max_iter (now {max_iter}) or "
                          "lower the rank", ConvergenceWarning, stacklevel=4)
        F, G = (np.asarray(f) for f in self.result_.factors)
        self.row_factors_, self.components_ = scale * F, G

    def _weigh_plain(self, rows, cols, values, shape, held_out, offsets):
        """``method="auto"``, after the biased fit: score the plain model on the entries
        the biased search held out (its rank searched as by ``method="altmin"``, or the
        given one; ridge 0) and keep it when it predicts them better. Skipped when nothing
        was held out or a row or column has no observation (the plain model cannot predict
        those; the biases do), when an entry is listed twice (repeated ratings), and when
        ``ridge`` is given (a setting of the biased model)."""
        biased_scores = {(BIASED, rank, ridge): rmse
                         for (rank, ridge), rmse in self.rank_scores_.items()}
        self.rank_scores_ = biased_scores
        every_line_seen = (np.bincount(rows, minlength=shape[0]).all()
                           and np.bincount(cols, minlength=shape[1]).all())
        if (held_out is None or not every_line_seen or self.ridge is not None
                or np.unique(rows * shape[1] + cols).size < rows.size):
            return
        operator, scale = EntrySampling(shape, rows, cols), self.value_scale_
        if self.rank == "auto":
            rank, plain = select_completion_rank(operator, values / scale, self.max_rank,
                                                 held_out=held_out, seed=self.seed)
        else:
            rank = self.rank
            plain = {rank: held_out_rmse(operator, values / scale, rank, held_out,
                                         seed=self.seed)}
        scores = {**biased_scores,
                  **{(PLAIN, k, 0.0): rmse * scale for k, rmse in plain.items()}}
        if scores[(PLAIN, rank, 0.0)] < min(biased_scores.values()):
            self.mean_, self.row_bias_ = offsets, np.zeros(shape[0])
            self._fit_plain(rows, cols, values, shape, PLAIN, rank, scores)
        else:
            self.rank_scores_ = scores
