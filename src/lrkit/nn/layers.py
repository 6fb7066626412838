"""Drop-in replacements for ``torch.nn.Linear`` (and ``nn.Embedding``) built from low-rank
factors.

Each is a :class:`~lrkit.nn.base.LinearLayer` (or an embedding) registered under its
``kind`` (:func:`~lrkit.nn.base.serializable`), so :func:`lrkit.nn.save` /
:func:`lrkit.nn.load` handle it.
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit._validation import check_int
from lrkit.nn.base import (  # noqa: F401 — the registry's 0.1 home
    LAYER_TYPES,
    LinearLayer,
    build_module,
    is_lrkit_layer,
    module_spec,
    serializable,
)


def split_singular_factors(U, s, Vt, rank):
    """``(B, A) = (U_r Σ_r^{1/2}, Σ_r^{1/2} V_rᵀ)``: the rank-``rank`` truncation of
    ``U Σ Vᵀ`` split evenly between the two factors."""
    root = s[:rank].sqrt()
    return U[:, :rank] * root, root[:, None] * Vt[:rank]


@serializable
class LowRankLinear(LinearLayer):
    """``y = B (A x) + b`` with ``A`` (rank × in) and ``B`` (out × rank): a rank-``rank``
    ``torch.nn.Linear`` holding ``rank (in + out)`` weights instead of ``in · out``.

    Parameters
    ----------
    in_features, out_features, rank : int
    bias : bool, default True
    """

    kind = "low_rank"

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
        """The rank-``rank`` truncated SVD of an ``nn.Linear``, ``B = U_r Σ_r^{1/2}``,
        ``A = Σ_r^{1/2} V_rᵀ`` (Eckart–Young: the best rank-r weight in Frobenius norm).

        The data-aware factorisations (``"whiten"``, ``"asvd"``, ``"fwsvd"``, ``"features"``)
        need calibration statistics and live with compression:
        :func:`lrkit.nn.compression.factorize_linear`. At full rank ``min(in, out)`` the
        output is reproduced to rounding error.
        """
        if method != "svd":
            raise ValueError(f"method={method!r} is a data-aware factorisation: use "
                             "lrkit.nn.compression.factorize_linear(linear, rank, method, "
                             "statistics)")
        W = linear.weight.detach()
        rank = check_int("rank", rank, 1, min(W.shape), high_label="min(out, in)")
        exact = W if W.dtype in (torch.float32, torch.float64) else W.to(torch.float64)
        B, A = split_singular_factors(*torch.linalg.svd(exact, full_matrices=False), rank)
        bias = None if linear.bias is None else linear.bias.detach()
        return cls.from_factors(B.to(W.dtype), A.to(W.dtype), bias)

    def spec(self):
        return {"type": self.kind, "in": self.in_features, "out": self.out_features,
                "rank": self.rank, "bias": self.up.bias is not None}

    @classmethod
    def from_spec(cls, spec):
        return cls(spec["in"], spec["out"], spec["rank"], bias=spec["bias"])

    @property
    def weight(self):
        """The dense ``out × in`` weight ``B A`` (computed, for inspection)."""
        return self.up.weight @ self.down.weight

    @property
    def bias(self):
        return self.up.bias

    def forward(self, x):
        return self.up(self.down(x))

    def describe(self):
        return {"rank": self.rank, "bias": self.up.bias is not None}


@serializable
class SparseLowRankLinear(LinearLayer):
    """``y = B (A x) + S x + b``: low-rank factors plus a sparse residual ``S`` (the
    sparse + low-rank split of a weight).

    ``from_linear`` keeps the ``density`` fraction of largest-magnitude entries of the
    residual ``W − B A`` in ``S`` (stored as a sparse COO tensor).
    """

    kind = "sparse_low_rank"

    def __init__(self, low_rank: LowRankLinear, sparse: torch.Tensor):
        super().__init__()
        self.in_features, self.out_features = low_rank.in_features, low_rank.out_features
        self.low_rank = low_rank
        self.register_buffer("sparse", sparse.coalesce())

    @classmethod
    def from_linear(cls, linear, rank, density=0.01, method="svd", statistics=None):
        """The truncated SVD of ``linear`` (:meth:`LowRankLinear.from_linear`) plus the
        ``density`` fraction of its largest residual entries."""
        return cls.from_low_rank(linear, LowRankLinear.from_linear(linear, rank, method,
                                                                   statistics), density)

    @classmethod
    def from_low_rank(cls, linear, low_rank, density=0.01):
        """``low_rank`` plus the ``density`` fraction of largest-magnitude entries of the
        residual ``W − B A`` of ``linear``."""
        if not 0.0 <= density < 1.0:
            raise ValueError(f"density must be in [0, 1); got {density}")
        residual = (linear.weight - low_rank.weight).detach()
        count = int(density * residual.numel())
        mask = torch.zeros_like(residual, dtype=torch.bool)
        if count:
            top = torch.topk(residual.abs().flatten(), count).indices
            mask.view(-1)[top] = True
        return cls(low_rank, (residual * mask).to_sparse())

    def spec(self):
        return {"type": self.kind, "low_rank": self.low_rank.spec()}

    @classmethod
    def from_spec(cls, spec):
        low = LowRankLinear.from_spec(spec["low_rank"])
        shape = (low.out_features, low.in_features)
        empty = torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0),
                                        shape)
        return cls(low, empty)

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


@serializable
class CompensatedLinear(LinearLayer):
    """``y = Ŵ x + B (A x) + b``: a compressed (e.g. pruned) weight ``Ŵ`` plus a low-rank
    compensation, the form EoRA produces."""

    kind = "compensated"

    def __init__(self, base: nn.Linear, B: torch.Tensor, A: torch.Tensor):
        super().__init__()
        self.in_features, self.out_features = base.in_features, base.out_features
        self.base = base
        self.compensation = LowRankLinear.from_factors(B, A)

    def spec(self):
        return {"type": self.kind, "base": module_spec(self.base),
                "rank": self.compensation.rank}

    @classmethod
    def from_spec(cls, spec):
        base = build_module(spec["base"])
        out, inp = base.weight.shape
        return cls(base, torch.zeros(out, spec["rank"]), torch.zeros(spec["rank"], inp))

    @property
    def weight(self):
        return self.base.weight + self.compensation.weight

    @property
    def bias(self):
        return self.base.bias

    def forward(self, x):
        return self.base(x) + self.compensation(x)


@serializable
class ResizedLinear(nn.Linear):
    """A plain ``nn.Linear`` whose shape differs from the layer it replaced (an MLP whose
    intermediate width MoDeGPT shrank); registered so :func:`lrkit.nn.save` records it."""

    kind = "resized_linear"

    def spec(self):
        return {"type": self.kind, "in": self.in_features, "out": self.out_features,
                "bias": self.bias is not None}

    @classmethod
    def from_spec(cls, spec):
        return cls(spec["in"], spec["out"], bias=spec["bias"])


@serializable
class IndexedLinear(LinearLayer):
    """A linear layer on a subset of its input and output coordinates:
    ``y[outputs] = W x[inputs] + b`` and ``y = 0`` on the other outputs.

    It stands in for a layer whose attention heads MoDeGPT narrowed (types II and III,
    :mod:`lrkit.nn.compression.modegpt_attention`): the attention kernel keeps its head size, the
    dropped coordinates carry zeros (which add nothing to ``q·k`` or to the value sums),
    and only the kept rows and columns are stored.

    Parameters
    ----------
    in_features, out_features : int
        The width of the layer it replaces.
    inputs, outputs : 1-d LongTensor, optional
        Kept input and output coordinates (default: all).
    bias : bool, default True
    """

    kind = "indexed_linear"

    def __init__(self, in_features, out_features, inputs=None, outputs=None, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        for name, index, size in (("inputs", inputs, in_features),
                                  ("outputs", outputs, out_features)):
            index = torch.arange(size) if index is None else torch.as_tensor(index).long()
            if index.dim() != 1 or len(index) == 0 or int(index.min()) < 0 \
                    or int(index.max()) >= size:
                raise ValueError(f"{name} must be a non-empty 1-d index into {size} "
                                 "coordinates")
            self.register_buffer(name, index.to(device))
        options = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(len(self.outputs), len(self.inputs), **options))
        self.bias = nn.Parameter(torch.zeros(len(self.outputs), **options)) if bias else None

    def spec(self):
        return {"type": self.kind, "in": self.in_features, "out": self.out_features,
                "kept_in": len(self.inputs), "kept_out": len(self.outputs),
                "bias": self.bias is not None}

    @classmethod
    def from_spec(cls, spec):
        return cls(spec["in"], spec["out"], torch.zeros(spec["kept_in"], dtype=torch.long),
                   torch.zeros(spec["kept_out"], dtype=torch.long), bias=spec["bias"])

    def dense_weight(self):
        """The ``out × in`` weight it applies, zeros included (for inspection)."""
        dense = self.weight.new_zeros(self.out_features, self.in_features)
        dense[self.outputs[:, None], self.inputs] = self.weight
        return dense

    def dense_bias(self):
        """The length-``out`` bias it adds, zeros included."""
        if self.bias is None:
            return None
        return self.bias.new_zeros(self.out_features).index_copy(0, self.outputs, self.bias)

    def forward(self, x):
        y = nn.functional.linear(x.index_select(-1, self.inputs), self.weight, self.bias)
        return y.new_zeros(*y.shape[:-1], self.out_features).index_copy(-1, self.outputs, y)

    def describe(self):
        return {"kept_in": len(self.inputs), "kept_out": len(self.outputs),
                "bias": self.bias is not None}


@serializable
class LowRankEmbedding(nn.Module):
    """``e'_v = B t_v + b``: an embedding table ``T`` (vocabulary × rank) read through an
    up-projection ``B`` (d × rank) with bias ``b``; ``rank (vocabulary + d)`` weights
    instead of ``vocabulary · d``."""

    kind = "low_rank_embedding"

    def __init__(self, num_embeddings, embedding_dim, rank, padding_idx=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.rank = num_embeddings, embedding_dim, rank
        self.padding_idx = padding_idx
        self.table = nn.Embedding(num_embeddings, rank, padding_idx=padding_idx)
        self.up = nn.Linear(rank, embedding_dim)

    @classmethod
    def from_factors(cls, table, up, bias, padding_idx=None):
        """Layer with rows ``up @ table[v] + bias`` (table: vocabulary × rank, up: d × rank),
        on the device and in the dtype of ``table``."""
        layer = cls(table.shape[0], up.shape[0], table.shape[1], padding_idx).to(
            table.device, table.dtype)
        with torch.no_grad():
            layer.table.weight.copy_(table)
            layer.up.weight.copy_(up)
            layer.up.bias.copy_(bias)
        return layer

    def spec(self):
        return {"type": self.kind, "vocabulary": self.num_embeddings,
                "dim": self.embedding_dim, "rank": self.rank, "padding_idx": self.padding_idx}

    @classmethod
    def from_spec(cls, spec):
        return cls(spec["vocabulary"], spec["dim"], spec["rank"], spec["padding_idx"])

    @property
    def weight(self):
        """The dense table it represents (computed, for inspection)."""
        return self.up(self.table.weight)

    def forward(self, ids):
        return self.up(self.table(ids))
