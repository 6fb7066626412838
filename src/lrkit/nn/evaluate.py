"""Quality of compressed embedding models: one method × ratio sweep shared by CLI and bench."""

from __future__ import annotations

import time
from dataclasses import dataclass

from lrkit.nn.compress import compress
from lrkit.nn.factorize import METHODS
from lrkit.nn.models import contrastive_loss, embedding_similarity


@dataclass
class SweepPoint:
    method: str
    ratio: float
    similarity: float
    seconds: float
    params_removed: float


def quality_sweep(model, calibration, evaluation, ratios, methods=METHODS, allocation="uniform",
                  progress=None):
    """Compress ``model`` with every method at every ratio and measure the cosine similarity
    of its sentence embeddings to the original's on ``evaluation`` batches. ``"fwsvd"`` uses
    :func:`~lrkit.nn.models.contrastive_loss` for its Fisher weights."""
    points = []
    for method in methods:
        for ratio in ratios:
            start = time.perf_counter()
            small, report = compress(model, ratio, method, calibration=calibration,
                                     allocation=allocation,
                                     loss_fn=contrastive_loss if method == "fwsvd" else None)
            seconds = time.perf_counter() - start
            points.append(SweepPoint(method, ratio, embedding_similarity(model, small, evaluation),
                                     seconds, report.achieved_ratio))
            if progress is not None:
                progress(points[-1])
    return points
