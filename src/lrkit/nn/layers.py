"""Drop-in replacements for ``torch.nn.Linear`` built from low-rank factors."""

from __future__ import annotations

import torch
from torch import nn


class LowRankLinear(nn.Module):
    """``y = B (A x) + b`` with ``A`` (rank × in) and ``B`` (out × rank): a rank-``rank``
    ``torch.nn.Linear`` holding ``rank (in + out)`` weights instead of ``in · out``.

    Parameters
    ----------
    in_features, out_features, rank : int
    bias : bool, default True
    """

    def __init__(self, in_features, out_features, rank, bias=True, device=None, dtype=None):
        super().__init__()
        if not 1 <= rank <= min(in_features, out_features):
            raise ValueError(f"rank must be in [1, min(in, out)={min(in_features, out_features)}]"
                             f"; got {rank}")
        options = {"device": device, "dtype": dtype}
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.down = nn.Linear(in_features, rank, bias=False, **options)
        self.up = nn.Linear(rank, out_features, bias=bias, **options)

    @classmethod
    def from_factors(cls, B, A, bias=None):
        """Layer with weight ``B @ A`` (B: out × rank, A: rank × in) and the given bias."""
        layer = cls(A.shape[1], B.shape[0], A.shape[0], bias=bias is not None,
                    device=A.device, dtype=A.dtype)
        with torch.no_grad():
            layer.down.weight.copy_(A)
            layer.up.weight.copy_(B)
            if bias is not None:
                layer.up.bias.copy_(bias)
        return layer

    @classmethod
    def from_linear(cls, linear, rank, method="svd", statistics=None):
        """Factorise an ``nn.Linear`` with one of :data:`lrkit.nn.METHODS`.

        ``statistics`` is the layer's :class:`~lrkit.nn.LayerStatistics` (needed by every
        method except ``"svd"``). At full rank ``min(in, out)`` the output is reproduced to
        rounding error.
        """
        from lrkit.nn.factorize import factorize

        B, A = factorize(linear.weight.detach(), rank, method, statistics)
        bias = None if linear.bias is None else linear.bias.detach()
        return cls.from_factors(B.to(linear.weight.dtype), A.to(linear.weight.dtype), bias)

    @property
    def weight(self):
        """The dense ``out × in`` weight ``B A`` (computed, for inspection)."""
        return self.up.weight @ self.down.weight

    @property
    def bias(self):
        return self.up.bias

    def forward(self, x):
        return self.up(self.down(x))

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"rank={self.rank}, bias={self.up.bias is not None}")


class SparseLowRankLinear(nn.Module):
    """``y = B (A x) + S x + b``: low-rank factors plus a sparse residual ``S`` (the
    sparse + low-rank split of a weight).

    ``from_linear`` keeps the ``density`` fraction of largest-magnitude entries of the
    residual ``W − B A`` in ``S`` (stored as a sparse COO tensor).
    """

    def __init__(self, low_rank: LowRankLinear, sparse: torch.Tensor):
        super().__init__()
        self.low_rank = low_rank
        self.register_buffer("sparse", sparse.coalesce())

    @classmethod
    def from_linear(cls, linear, rank, density=0.01, method="svd", statistics=None):
        if not 0.0 <= density < 1.0:
            raise ValueError(f"density must be in [0, 1); got {density}")
        low_rank = LowRankLinear.from_linear(linear, rank, method, statistics)
        residual = (linear.weight - low_rank.weight).detach()
        count = int(density * residual.numel())
        mask = torch.zeros_like(residual, dtype=torch.bool)
        if count:
            top = torch.topk(residual.abs().flatten(), count).indices
            mask.view(-1)[top] = True
        return cls(low_rank, (residual * mask).to_sparse())

    @property
    def weight(self):
        return self.low_rank.weight + self.sparse.to_dense()

    @property
    def bias(self):
        return self.low_rank.bias

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        extra = torch.sparse.mm(self.sparse, flat.T).T.reshape(*x.shape[:-1], -1)
        return self.low_rank(x) + extra


class CompensatedLinear(nn.Module):
    """``y = Ŵ x + B (A x) + b``: a compressed (e.g. pruned) weight ``Ŵ`` plus a low-rank
    compensation, the form EoRA produces."""

    def __init__(self, base: nn.Linear, B: torch.Tensor, A: torch.Tensor):
        super().__init__()
        self.base = base
        self.compensation = LowRankLinear.from_factors(B, A)

    @property
    def weight(self):
        return self.base.weight + self.compensation.weight

    @property
    def bias(self):
        return self.base.bias

    def forward(self, x):
        return self.base(x) + self.compensation(x)
