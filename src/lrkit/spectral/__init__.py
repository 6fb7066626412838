"""Spectral diagnostics."""

from lrkit.spectral.metrics import effective_rank, marchenko_pastur_edge, stable_rank

__all__ = ["effective_rank", "marchenko_pastur_edge", "stable_rank"]
