"""Spectral diagnostics of weight and data matrices."""

from lrkit.spectral.metrics import (
    effective_rank,
    marchenko_pastur_edge,
    nuclear_norm_metric,
    spectral_entropy,
    stable_rank,
)
from lrkit.spectral.powerlaw import (
    PowerLawFit,
    alpha,
    esd,
    farms_alpha,
    farms_esd,
    fit_power_law,
)
from lrkit.spectral.report import SpectralReport, analyze

__all__ = [
    "PowerLawFit",
    "SpectralReport",
    "alpha",
    "analyze",
    "effective_rank",
    "esd",
    "farms_alpha",
    "farms_esd",
    "fit_power_law",
    "marchenko_pastur_edge",
    "nuclear_norm_metric",
    "spectral_entropy",
    "stable_rank",
]
