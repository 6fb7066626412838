"""Linear measurement operators ``A: R^{n1×n2} → R^m`` with factor-aware products."""

from lrkit.exceptions import AdjointTestError
from lrkit.operators.base import (
    OperatorTooLargeError,
    SensingOperator,
    memory_budget,
    set_memory_budget,
)
from lrkit.operators.dottest import dottest
from lrkit.operators.entry_sampling import CrossSampling, EntrySampling
from lrkit.operators.fourier import SubsampledFourier, cartesian_masks, kspace_mask
from lrkit.operators.gaussian import GaussianSensing
from lrkit.operators.rank_one import RankOneSensing

__all__ = [
    "AdjointTestError",
    "CrossSampling",
    "EntrySampling",
    "GaussianSensing",
    "OperatorTooLargeError",
    "RankOneSensing",
    "SensingOperator",
    "SubsampledFourier",
    "cartesian_masks",
    "dottest",
    "kspace_mask",
    "memory_budget",
    "set_memory_budget",
]
