"""Sparse vectors from few measurements: preconditioned sparse regression (paper 18) and
sparse Bayesian learning, plain and Kronecker-structured (paper 35)."""

from lrkit.sparse.bayesian import SBL_METHODS, SparseResult, sparse_bayes
from lrkit.sparse.regression import (
    SPARSE_REGRESSION_METHODS,
    SparseRegressionResult,
    sparse_regression,
)

__all__ = ["SBL_METHODS", "SPARSE_REGRESSION_METHODS", "SparseRegressionResult",
           "SparseResult", "sparse_bayes", "sparse_regression"]
