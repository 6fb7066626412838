"""Implicit feedback: :class:`ImplicitALS` (:mod:`.model`), the systems of one side and the
objective (:mod:`.side`, compiled by :mod:`lrkit._kernels.row_cg` where Numba is
installed), and the out-of-core fit on a Dask DataFrame (:mod:`.dask_pairs`)."""

from lrkit.ratings.implicit.model import ImplicitALS

__all__ = ["ImplicitALS"]
