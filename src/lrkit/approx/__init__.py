"""Low-rank approximation of a given matrix."""

from lrkit.approx.concat import cluster_for_compression, concat_error, concat_error_bound
from lrkit.approx.incremental import IncrementalSVD
from lrkit.approx.lp_regression import LP_SAMPLINGS, LpRegressionResult, lp_regression
from lrkit.approx.rank import (
    gavish_donoho_threshold,
    marchenko_pastur_median,
    select_rank,
    welore_rank,
)
from lrkit.approx.sampling import (
    CUR,  # noqa: F401 — the 0.1 name of CURFactors
    CURFactors,
    Nystrom,  # noqa: F401 — the 0.1 name of NystromFactors
    NystromFactors,
    approximation_error,
    cur,
    leverage_scores,
    lewis_weights,
    nystrom,
)
from lrkit.approx.truncated_svd import choose_svd_method, svd

__all__ = [
    "CURFactors",
    "IncrementalSVD",
    "LP_SAMPLINGS",
    "LpRegressionResult",
    "NystromFactors",
    "approximation_error",
    "choose_svd_method",
    "cluster_for_compression",
    "concat_error",
    "concat_error_bound",
    "cur",
    "gavish_donoho_threshold",
    "leverage_scores",
    "lewis_weights",
    "lp_regression",
    "marchenko_pastur_median",
    "nystrom",
    "select_rank",
    "svd",
    "welore_rank",
]
