"""Whole-model compression: calibration statistics, factorisations (SVD, whitened, ASVD,
FWSVD, features), rank allocations, refits, MoDeGPT, EoRA, distillation and reports.

:func:`compress` is the entry point (:mod:`~lrkit.nn.compression.pipeline`). The method
declarations (:mod:`~lrkit.nn.compression.methods`) and rank allocations
(:mod:`~lrkit.nn.compression.allocation`) import without PyTorch.
"""

from lrkit._lazy import lazy_names

__getattr__, __dir__ = lazy_names(__name__, {
    "compress": "lrkit.nn.compression.pipeline",
    "METHODS": "lrkit.nn.compression.methods",
    "FACTORIZATIONS": "lrkit.nn.compression.methods",
    "ALLOCATIONS": "lrkit.nn.compression.allocation",
    "allocate": "lrkit.nn.compression.allocation",
    "factorize": "lrkit.nn.compression.factorization",
    "factorize_linear": "lrkit.nn.compression.factorization",
    "CompressionReport": "lrkit.nn.compression.report",
})

__all__ = ["ALLOCATIONS", "CompressionReport", "FACTORIZATIONS", "METHODS", "allocate",
           "compress", "factorize", "factorize_linear"]
