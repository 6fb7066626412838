"""Rank-r factorisations ``W ≈ B A`` of one weight, plain or data-aware: the SVD of a
method-scaled weight (the methods are in :mod:`.methods`), EoRA compensation, and
the output error on calibration inputs.

With ``whiten``, ``(S⁻¹X)(S⁻¹X)ᵀ = I``, so the output error on the calibration inputs of
dropping singular values is exactly their root-sum-square, and truncation is optimal for
``||(W − BA) X||_F``.
"""

from __future__ import annotations

import torch

from lrkit._validation import check_int
from lrkit.nn.compression.methods import FLOOR, get_factorization
from lrkit.nn.compression.whitening import cholesky_factor  # noqa: F401 (public name)
from lrkit.nn.layers import LowRankLinear, SparseLowRankLinear, split_singular_factors


def compute_dtype(W, method):
    """float64 for whitening (its Cholesky factor and triangular solves need it, as SVD-LLM
    notes); the weight's own float precision otherwise, at half the SVD time in float32."""
    if method == "whiten" or W.dtype not in (torch.float32, torch.float64):
        return torch.float64
    return W.dtype


def scaled_weight(W, method, statistics=None, fisher_axis="out"):
    """``(L W R, left, right)`` for a method (see the module table), in
    :func:`compute_dtype`."""
    W = W.detach().to(compute_dtype(W, method))
    factorization = get_factorization(method)
    factorization.check_statistics(statistics)
    left, right = factorization.scalings(W, statistics, fisher_axis)
    left = None if left is None else left.to(W.dtype)
    right = None if right is None else right.to(W.dtype)
    M = W if left is None else left[:, None] * W
    if right is not None:
        M = M * right if right.dim() == 1 else M @ right
    return M, left, right


class Decomposition:
    """The SVD of a method-scaled weight ``L W R = U Σ Vᵀ``; ``factors(r)`` maps rank-r
    truncations back to ``(B, A)`` with ``W ≈ B A``. One SVD serves every rank."""

    def __init__(self, W, method="svd", statistics=None, fisher_axis="out"):
        get_factorization(method)
        if not torch.is_tensor(W) or W.dim() != 2:
            kind = type(W).__name__ if not torch.is_tensor(W) else f"{W.dim()}-d tensor"
            raise ValueError(f"W must be a 2-d torch.Tensor (out x in); got a {kind} "
                             "(use torch.as_tensor)")
        if fisher_axis not in ("out", "in"):
            raise ValueError(f"fisher_axis must be 'out' or 'in'; got {fisher_axis!r}")
        if not torch.isfinite(W).all():
            raise ValueError("the weight contains NaN or inf")
        self.shape, self.method = tuple(W.shape), method
        if method == "features":
            self._output_pca(W, statistics)
            return
        M, self.left, self.right = scaled_weight(W, method, statistics, fisher_axis)
        self.U, self.s, self.Vt = torch.linalg.svd(M, full_matrices=False)

    def _output_pca(self, W, statistics):
        """Eigenvectors of the centred output covariance ``W Σ_c Wᵀ`` (``s``: the square
        roots of its eigenvalues, so ``Σ_{i>r} s_i²`` is the output variance dropped)."""
        get_factorization("features").check_statistics(statistics)
        W = W.detach().to(torch.float64)
        mean = statistics.mean.to(W.device, torch.float64)
        centred = statistics.covariance.to(W.device) - statistics.tokens * torch.outer(mean,
                                                                                        mean)
        eigenvalues, Q = torch.linalg.eigh(W @ centred @ W.T)
        order = torch.argsort(eigenvalues, descending=True)[:min(self.shape)]
        self.U, self.s = Q[:, order], eigenvalues[order].clamp_min(0).sqrt()
        self.W, self.mean = W, mean

    def factors(self, rank):
        """``(B, A)`` of rank ``rank``, in :func:`compute_dtype`."""
        rank = check_int("rank", rank, 1, min(self.shape), high_label="min(out, in)")
        if self.method == "features":
            Q = self.U[:, :rank]
            return Q, Q.T @ self.W
        B, A = split_singular_factors(self.U, self.s, self.Vt, rank)
        if self.left is not None:
            B = B / self.left[:, None]
        if self.right is not None:
            if self.right.dim() == 1:
                A = A / self.right
            else:  # A R⁻¹ = (R⁻ᵀ Aᵀ)ᵀ with R lower triangular
                A = torch.linalg.solve_triangular(self.right.T, A.T, upper=True).T
        return B, A


    def bias_shift(self, rank):
        """What the bias must add so the dropped output directions keep their mean:
        ``(I − Q_r Q_rᵀ) W μ`` for ``"features"``, None for the other methods."""
        if self.method != "features":
            return None
        Q = self.U[:, :rank]
        shift = self.W @ self.mean
        return shift - Q @ (Q.T @ shift)


def factorize(W, rank, method="svd", statistics=None, fisher_axis="out"):
    """Rank-``rank`` factors ``(B, A)`` of the weight ``W`` (out × in).

    Parameters
    ----------
    W : torch.Tensor (out × in)
    rank : int in [1, min(out, in)]
    method : {"svd", "fwsvd", "asvd", "whiten"}
    statistics : LayerStatistics, optional
        Needed by all methods but ``"svd"``.
    fisher_axis : {"out", "in"}
        ``fwsvd`` importance per output row (FWSVD's formulation) or per input column (the
        variant some re-implementations use).
    """
    return Decomposition(W, method, statistics, fisher_axis).factors(rank)


def factorize_linear(linear, rank, method="svd", statistics=None, density=None):
    """An ``nn.Linear`` as a :class:`~lrkit.nn.LowRankLinear` of rank ``rank`` by any
    factorisation of :data:`lrkit.nn.METHODS` (:func:`factorize`), or, with ``density``, a
    :class:`~lrkit.nn.SparseLowRankLinear` that also keeps that fraction of the largest
    residual entries.

    ``statistics`` is the layer's :class:`~lrkit.nn.LayerStatistics` (needed by every method
    except ``"svd"``). At full rank ``min(in, out)`` the output is reproduced to rounding
    error.
    """
    W = linear.weight.detach()
    B, A = factorize(W, rank, method, statistics)
    bias = None if linear.bias is None else linear.bias.detach()
    low_rank = LowRankLinear.from_factors(B.to(W.dtype), A.to(W.dtype), bias)
    return low_rank if density is None else SparseLowRankLinear.from_low_rank(linear, low_rank,
                                                                              density)


def eora_factors(W, W_compressed, rank, statistics):
    """EoRA (Liu et al. 2024): rank-``rank`` compensation ``B A`` of a compressed weight.

    With ``C = Q Λ Qᵀ`` (eigenvalues floored at ``FLOOR · λ_max``), the error ``ΔW = W − Ŵ``
    is projected into the eigenspace, ``ΔW' = ΔW Q Λ^{1/2}``, truncated by SVD
    ``ΔW' ≈ U_r Σ_r V_rᵀ``, and mapped back: ``B = U_r Σ_r^{1/2}``,
    ``A = Σ_r^{1/2} V_rᵀ Λ^{-1/2} Qᵀ``. This minimises ``||(ΔW − B A) X||_F``.
    """
    delta = (W.detach() - W_compressed.detach()).to(torch.float64)
    C = statistics.covariance.to(delta.device)
    eigenvalues, Q = torch.linalg.eigh(C)
    eigenvalues = eigenvalues.clamp_min(FLOOR * float(eigenvalues.max()) + 1e-300)
    root = eigenvalues.sqrt()
    U, s, Vt = torch.linalg.svd((delta @ Q) * root, full_matrices=False)
    rank = min(rank, len(s))
    sroot = s[:rank].sqrt()
    B = U[:, :rank] * sroot
    A = ((sroot[:, None] * Vt[:rank]) / root) @ Q.T
    return B, A


def output_error(W, W_approx, statistics):
    """Relative output error on the calibration inputs,
    ``sqrt(tr(ΔW C ΔWᵀ) / tr(W C Wᵀ))``, from the covariance alone."""
    W = W.detach().to(torch.float64)
    delta = W - W_approx.detach().to(torch.float64)
    C = statistics.covariance.to(W.device)
    num = torch.sum((delta @ C) * delta)
    den = torch.sum((W @ C) * W)
    return float(torch.sqrt(num.clamp_min(0) / den)) if den > 0 else 0.0
