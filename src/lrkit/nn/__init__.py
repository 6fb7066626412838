"""Low-rank compression and adaptation of PyTorch networks (needs ``lrkit[torch]``).

>>> import lrkit.nn as lnn                                               # doctest: +SKIP
>>> small, report = lnn.compress(model, ratio=0.3, method="whiten", calibration=batches)
"""

try:
    import torch  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only without torch
    raise ImportError("lrkit.nn needs PyTorch: pip install 'lrkit[torch]'") from error

from lrkit.nn.allocation import ALLOCATIONS, allocate, break_even_rank
from lrkit.nn.calibration import LayerStatistics, collect_statistics, linear_layers
from lrkit.nn.compress import CompressionReport, LayerReport, compress
from lrkit.nn.eora import compensate, prune
from lrkit.nn.evaluate import SweepPoint, quality_sweep
from lrkit.nn.factorize import METHODS, Decomposition, eora_factors, factorize, output_error
from lrkit.nn.io import load, save
from lrkit.nn.layers import CompensatedLinear, LowRankLinear, SparseLowRankLinear

__all__ = [
    "ALLOCATIONS",
    "METHODS",
    "CompensatedLinear",
    "CompressionReport",
    "Decomposition",
    "LayerReport",
    "LayerStatistics",
    "LowRankLinear",
    "SparseLowRankLinear",
    "SweepPoint",
    "allocate",
    "break_even_rank",
    "collect_statistics",
    "compensate",
    "compress",
    "eora_factors",
    "factorize",
    "linear_layers",
    "load",
    "output_error",
    "prune",
    "quality_sweep",
    "save",
]
