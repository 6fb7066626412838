"""Attention with a low-rank bias, without forming the bias (FlashBias, paper 38).

Biased attention ``softmax(s Q Kᵀ + Bias) V`` (``s = 1/√d``) needs the L × S bias in memory,
which also keeps fused attention kernels from running. When ``Bias = U Wᵀ`` with
``U`` (L × R) and ``W`` (S × R),

    s Q Kᵀ + U Wᵀ = s [Q, U/s] [K, W]ᵀ,

so the biased attention is *plain* scaled-dot-product attention of the extended queries
``[Q, U/s]`` and keys ``[K, W]`` (head dimension d + R), with the value unchanged
("FlashBias: Fast Computation of Attention with Bias", 2025). The result is exact
when the bias has rank ≤ R (e.g. the negative squared distance of points in R^p has rank
p + 2: ``−‖x_i − x_j‖² = −‖x_i‖² − ‖x_j‖² + 2 x_iᵀ x_j``); otherwise the factors come from a
truncated SVD of the bias (:func:`bias_factors`), whose error is the dropped singular values.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lrkit._validation import check_int


def bias_factors(bias, rank):
    """``(U, W)`` with ``U Wᵀ`` the best rank-``rank`` approximation of ``bias`` (…, L, S)
    (truncated SVD, the singular values split evenly between the factors)."""
    if not torch.is_tensor(bias) or bias.dim() < 2:
        raise ValueError("bias must be a torch.Tensor with at least 2 dimensions (..., L, S)")
    rank = check_int("rank", rank, 1, min(bias.shape[-2:]), high_label="min(L, S)")
    U, s, Vh = torch.linalg.svd(bias, full_matrices=False)
    root = s[..., :rank].sqrt()
    return U[..., :rank] * root.unsqueeze(-2), Vh[..., :rank, :].mT * root.unsqueeze(-2)


def distance_bias_factors(points_q, points_k, weight=1.0):
    """Exact rank-(p + 2) factors of the bias ``−weight ‖x_i − y_j‖²`` between query points
    ``points_q`` (…, L, p) and key points ``points_k`` (…, S, p)."""
    ones_q = torch.ones_like(points_q[..., :1])
    ones_k = torch.ones_like(points_k[..., :1])
    U = weight * torch.cat([2 * points_q, -(points_q**2).sum(-1, keepdim=True), -ones_q], -1)
    W = torch.cat([points_k, ones_k, (points_k**2).sum(-1, keepdim=True)], -1)
    return U, W


def biased_attention(query, key, value, factors=None, *, bias=None, rank=None,
                     dropout_p=0.0, is_causal=False):
    """``softmax(Q Kᵀ/√d + Bias) V`` through the bias's low-rank factors.

    Parameters
    ----------
    query, key, value : torch.Tensor (…, L, d), (…, S, d), (…, S, d_v)
    factors : (U, W), optional
        ``U`` (…, L, R) and ``W`` (…, S, R) with ``Bias = U Wᵀ``, broadcast against the
        batch and head dimensions (per-head factors, e.g. ALiBi's slopes, are (H, L, R)).
    bias : torch.Tensor (…, L, S), optional
        A dense bias, factorised here by :func:`bias_factors` at ``rank`` (then the result
        approximates dense-bias attention; exact at full rank).
    rank : int, optional
        With ``bias``.
    dropout_p, is_causal
        As in :func:`torch.nn.functional.scaled_dot_product_attention`. ``is_causal`` keeps
        the causal kernel, which a dense bias (passed as a mask) rules out.

    Returns
    -------
    torch.Tensor (…, L, d_v)

    Notes
    -----
    The bias is never formed: memory is O((L + S) R) per head instead of O(L S). Time is that
    of unbiased attention at head dimension d + R (rounded up to a multiple of 8); the
    benchmarks' FlashBias section measures both against dense-bias attention.
    """
    if (factors is None) == (bias is None):
        raise ValueError("pass exactly one of factors=(U, W) or bias= (with rank=)")
    if bias is not None:
        if rank is None:
            raise ValueError("bias= needs rank= (the rank of its factors)")
        factors = bias_factors(bias, rank)
    U, W = factors
    if U.shape[-1] != W.shape[-1]:
        raise ValueError(f"the factors' ranks differ: U has {U.shape[-1]}, W {W.shape[-1]}")
    if U.shape[-2] != query.shape[-2] or W.shape[-2] != key.shape[-2]:
        raise ValueError(f"U must have L={query.shape[-2]} rows and W S={key.shape[-2]} rows; "
                         f"got {U.shape[-2]} and {W.shape[-2]}")
    scale = 1.0 / math.sqrt(query.shape[-1])
    batch = torch.broadcast_shapes(query.shape[:-2], U.shape[:-2], W.shape[:-2])
    q = torch.cat([query.expand(*batch, *query.shape[-2:]),
                   (U / scale).to(query.dtype).expand(*batch, *U.shape[-2:])], -1)
    k = torch.cat([key.expand(*batch, *key.shape[-2:]),
                   W.to(key.dtype).expand(*batch, *W.shape[-2:])], -1)
    v = value.expand(*batch, *value.shape[-2:])
    # Fused kernels want one head dimension for queries, keys and values, and a multiple of 8
    # (CUDA's flash kernel needs it; on the CPU it is faster, see the benchmarks): zero
    # columns change neither the scores nor the values kept.
    width = -(-max(q.shape[-1], v.shape[-1]) // 8) * 8
    q, k = F.pad(q, (0, width - q.shape[-1])), F.pad(k, (0, width - k.shape[-1]))
    out = F.scaled_dot_product_attention(q, k, F.pad(v, (0, width - v.shape[-1])),
                                         dropout_p=dropout_p, is_causal=is_causal, scale=scale)
    return out[..., :value.shape[-1]]
