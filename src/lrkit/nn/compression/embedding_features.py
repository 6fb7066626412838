"""Output-feature compression of embedding tables (paper 12, applied to a lookup table).

An embedding table ``E`` (vocabulary × d) outputs the row of each token it reads. Its
output features are compressed, not its weight: with ``p_v`` the share of token ``v``
among the calibration tokens, ``μ = Σ_v p_v e_v`` and the output covariance
``Σ = Σ_v p_v (e_v − μ)(e_v − μ)ᵀ = Q Λ Qᵀ``, the rank-r table keeps the top ``r``
principal directions ``Q_r`` of what the model actually reads:

    e'_v = Q_r Q_rᵀ e_v + (I − Q_r Q_rᵀ) μ,

stored as a table ``E Q_r`` (vocabulary × r) and an up-projection ``Q_rᵀ`` with bias
``(I − Q_r Q_rᵀ) μ``. The mean squared output error over the calibration tokens is the
dropped eigenvalue mass ``Σ_{i>r} λ_i``, the least any rank-r map of the rows can reach.
Tokens absent from the calibration text still count with a floor weight
(:data:`UNSEEN_SHARE` of the mass spread uniformly), so rare tokens are not sacrificed
entirely to frequent ones.
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit.nn.compression.report import LayerReport
from lrkit.nn.layers import LowRankEmbedding
from lrkit.nn.statistics import _call, _move, _token_mask
from lrkit.nn.surgery import replace_module

#: Share of the weight mass spread uniformly over the vocabulary (the rest follows the
#: calibration token counts). MiniLM's word embeddings at rank 128, cosine on held-out
#: sentences (9 % of their tokens unseen in calibration): 0.941 / 0.945 / 0.948 / 0.707
#: for a share of 0 / 0.1 / 0.3 / 1 (1 is the unweighted PCA of the rows).
UNSEEN_SHARE = 0.3


def token_counts(model, embedding, batches):
    """How often ``model`` looks each row of ``embedding`` up on ``batches`` (padding
    excluded where a batch has an ``attention_mask``)."""
    counts = torch.zeros(embedding.num_embeddings, dtype=torch.float64)
    state = {"mask": None}

    def count(module, inputs):
        ids = inputs[0].detach()
        if state["mask"] is not None and ids.shape == state["mask"].shape:
            ids = ids[state["mask"]]
        ids = ids.reshape(-1).cpu()
        counts.index_add_(0, ids, torch.ones(len(ids), dtype=torch.float64))

    device = next(model.parameters()).device
    handle = embedding.register_forward_pre_hook(count)
    try:
        with torch.no_grad():
            for batch in batches:
                batch = _move(batch, device)
                state["mask"] = _token_mask(batch)
                _call(model, batch)
    finally:
        handle.remove()
    return counts


def feature_embedding(embedding, rank, counts, unseen_share=UNSEEN_SHARE):
    """The rank-``rank`` :class:`LowRankEmbedding` keeping the principal output features
    of ``embedding`` under the token shares ``counts``; and its relative output error
    ``sqrt(Σ_{i>r} λ_i / Σ_v p_v ‖e_v‖²)``."""
    E = embedding.weight.detach().to(torch.float64)
    vocabulary, dim = E.shape
    if not 1 <= rank < dim:
        raise ValueError(f"rank must be in [1, {dim - 1}] (the embedding width is {dim}); "
                         f"got {rank}")
    counts = counts.to(E.device, torch.float64)
    total = float(counts.sum())
    shares = (1 - unseen_share) * counts / total if total > 0 else torch.zeros_like(counts)
    shares = shares + (1 - float(shares.sum())) / vocabulary
    mean = shares @ E
    covariance = (E * shares[:, None]).T @ E - torch.outer(mean, mean)
    eigenvalues, Q = torch.linalg.eigh(covariance)
    order = torch.argsort(eigenvalues, descending=True)
    Q = Q[:, order[:rank]]
    dropped = float(eigenvalues[order[rank:]].clamp_min(0).sum())
    energy = float(shares @ E.square().sum(1))
    dtype = embedding.weight.dtype
    layer = LowRankEmbedding.from_factors((E @ Q).to(dtype), Q.to(dtype),
                                          (mean - Q @ (Q.T @ mean)).to(dtype),
                                          embedding.padding_idx)
    return layer, (dropped / energy) ** 0.5 if energy > 0 else 0.0


def embedding_names(model, layers):
    """The names in ``layers`` (names or a dict; None: none) of ``nn.Embedding`` tables."""
    if layers is None:
        return []
    modules = dict(model.named_modules())
    return [name for name in layers if isinstance(modules.get(name), nn.Embedding)]


def embedding_rank(shape, ratio):
    """The largest rank whose table and up-projection remove at least ``ratio`` of the
    ``vocabulary × d`` weights (at least 1)."""
    vocabulary, dim = shape
    return max(1, min(dim - 1, int((1 - ratio) * vocabulary * dim / (vocabulary + dim))))


def compress_embeddings(model, counts, ratio):
    """Replace each table named in ``counts`` (name -> token counts) by its rank-r output
    features (:func:`feature_embedding`) removing ``ratio`` of its weights; reports by
    name."""
    reports = {}
    for name, tokens in counts.items():
        embedding = model.get_submodule(name)
        E = embedding.weight.detach()
        rank = embedding_rank(tuple(E.shape), ratio)
        layer, error = feature_embedding(embedding, rank, tokens)
        replace_module(model, name, layer)
        weight_error = float(torch.linalg.norm(E - layer.weight.detach())
                             / torch.linalg.norm(E))
        reports[name] = LayerReport(name, tuple(E.shape), rank, E.numel(),
                                    layer.table.weight.numel() + layer.up.weight.numel(),
                                    weight_error, error)
    return reports
