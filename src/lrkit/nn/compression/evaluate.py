"""Quality of compressed embedding models: embeddings, their similarity, a task loss, and
one method × ratio sweep shared by the CLI and the benchmarks."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from lrkit.nn.compression.methods import METHODS, get_factorization
from lrkit.nn.compression.pipeline import compress
from lrkit.nn.statistics import collect_statistics
from lrkit.nn.surgery import select_layers
from lrkit.nn.workloads.classifier import mean_pooled


@torch.no_grad()
def embed(model, batches):
    """Mean-pooled, L2-normalised embeddings of every sentence in ``batches``."""
    parts = [torch.nn.functional.normalize(mean_pooled(model, b), dim=-1) for b in batches]
    return torch.cat(parts)


def embedding_similarity(original, compressed, batches):
    """Mean cosine similarity between the two models' embeddings of the same sentences."""
    return float((embed(original, batches) * embed(compressed, batches)).sum(-1).mean())


def contrastive_loss(model, batch, temperature=0.05, drop=0.15, seed=0):
    """Unsupervised in-batch contrastive loss for an embedding model: each sentence must
    pick out a copy of itself with ``drop`` of its tokens masked out among the batch
    (SimCSE-style InfoNCE with token dropout as augmentation). Used as the task loss whose
    gradients give FWSVD's Fisher weights when no labelled data exist."""
    generator = torch.Generator().manual_seed(seed)
    mask = batch["attention_mask"]
    keep = (torch.rand(mask.shape, generator=generator) > drop).to(mask.dtype)
    keep[:, 0] = 1
    augmented = dict(batch, attention_mask=mask * keep)
    a = torch.nn.functional.normalize(mean_pooled(model, batch), dim=-1)
    b = torch.nn.functional.normalize(mean_pooled(model, augmented), dim=-1)
    logits = a @ b.T / temperature
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(a)))


def next_token_loss(model, batch):
    """A causal language model's mean next-token cross-entropy on ``batch``."""
    return model(**batch, labels=batch["input_ids"]).loss


@torch.no_grad()
def causal_perplexity(model, windows):
    """``exp`` of the mean next-token loss over ``windows`` (batches of one, as
    :func:`lrkit.nn.datasets.token_windows` makes them)."""
    losses = [float(next_token_loss(model, window)) for window in windows]
    return float(torch.tensor(losses).mean().exp())


@dataclass
class SweepPoint:
    method: str
    ratio: float
    similarity: float
    seconds: float
    params_removed: float


def quality_sweep(model, calibration, evaluation, ratios, methods=("auto", *METHODS),
                  allocation=None, progress=None):
    """Compress ``model`` with every method at every ratio and measure the cosine similarity
    of its sentence embeddings to the original's on ``evaluation`` batches.

    The model is embedded once and calibrated at most twice: once with forward passes,
    and once with :func:`contrastive_loss` (whose gradients give ``"fwsvd"`` its Fisher
    weights) if a method needs it; every point reuses them. ``progress(point)`` is called
    after each point.
    """
    layers = select_layers(model)
    calibrations = {}

    def statistics_for(method):
        needs_loss = get_factorization(
            "whiten" if method in ("auto", "modegpt") else method).needs_loss
        if needs_loss not in calibrations:
            calibrations[needs_loss] = collect_statistics(
                model, calibration, layers, contrastive_loss if needs_loss else None)
        return calibrations[needs_loss]

    reference = embed(model, evaluation)
    points = []
    for method in methods:
        for ratio in ratios:
            start = time.perf_counter()
            small, report = compress(model, ratio, method, allocation=allocation,
                                     calibration=calibration,
                                     statistics=statistics_for(method))
            seconds = time.perf_counter() - start
            similarity = float((reference * embed(small, evaluation)).sum(-1).mean())
            points.append(SweepPoint(method, ratio, similarity, seconds, report.achieved_ratio))
            if progress is not None:
                progress(points[-1])
    return points
