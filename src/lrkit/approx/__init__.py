"""Low-rank approximation of a given matrix."""

from lrkit.approx.rank import gavish_donoho_threshold, marchenko_pastur_median, select_rank
from lrkit.approx.svd import choose_svd_method, svd

__all__ = [
    "choose_svd_method",
    "gavish_donoho_threshold",
    "marchenko_pastur_median",
    "select_rank",
    "svd",
]
