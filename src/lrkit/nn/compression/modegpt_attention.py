"""MoDeGPT's module-level compression of attention: query–key by CR, value–output by SVD.

Attention is two modules per head (MoDeGPT, Lin et al., ICLR 2025, types II and III).
With ``q = W_Q x + b_Q``, ``k = W_K x + b_K`` and ``v = W_V x + b_V``, head ``h`` scores
``q_hᵀ k_h = Σ_i q_{h,i} k_{h,i}`` and outputs ``W_O^h z_h`` with ``z_h = Σ_t a_t v_{h,t}``
(the attention-weighted values, the input of ``o_proj`` on that head's block).

**Type II, query–key (CR decomposition).** The score is a sum of ``d_h`` products of
coordinates; keeping ``k`` of them is a column–row (CR) approximation of ``Q Kᵀ``, whose
error is bounded by the products of norms it drops. Coordinate ``i`` of key head ``g``
scores ``s_i = ‖k_{g,i}‖ · Σ_{h → g} ‖q_{h,i}‖`` (norms over the calibration tokens,
bias included; the query heads sharing ``g`` under grouped-query attention are summed);
the top ``k`` coordinates are kept in both projections. With rotary embeddings the
coordinates ``i`` and ``i + d_h/2`` rotate together, so they are kept or dropped as a pair.

**Type III, value–output (SVD).** ``W_O^h z_h`` is replaced by ``B_h (A z_h)``: the values
are projected to ``k`` coordinates by ``A`` (folded into ``W_V``: ``W_V' = A W_V``,
``b_V' = A b_V``) and ``o_proj`` reads them through ``B_h``. With ``C`` the covariance of
``z`` on the head's block and ``S Sᵀ = C``, the best rank-``k`` pair is the truncated SVD
``W_O^h S = U Σ Vᵀ``: ``B = U_k Σ_k``, ``A = V_kᵀ S⁻¹``; the value heads shared by several
query heads use the heads' ``W_O^h`` stacked and their covariances averaged.

One departure from the paper, and why: MoDeGPT whitens type III by the covariance of the
attention *input* ``x``; lrkit whitens by that of ``z``, what ``o_proj`` actually reads
(its calibration statistics), so the truncation is optimal for the module output with the
attention pattern fixed, and exact at ``k = d_h``. The attention kernel keeps its head size:
the dropped coordinates are zeros (:class:`~lrkit.nn.layers.IndexedLinear`), which changes
no score and no value sum, and only the kept rows and columns are stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lrkit.nn.compression.report import LayerReport
from lrkit.nn.compression.whitening import cholesky_factor
from lrkit.nn.layers import IndexedLinear
from lrkit.nn.surgery import replace_module

#: ``(query, key, value, output, attention module, rotary)`` name suffixes per family.
ATTENTION_PATTERNS = (
    ("attention.self.query", "attention.self.key", "attention.self.value",
     "attention.output.dense", "attention.self", False),              # BERT
    ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
     "self_attn", True),                                              # LLaMA / SmolLM
)


@dataclass
class AttentionModule:
    """One attention block's projections (layer names) and head geometry."""

    query: str
    key: str
    value: str
    output: str
    heads: int
    kv_heads: int
    head_dim: int
    rotary: bool

    @property
    def names(self):
        return (self.query, self.key, self.value, self.output)

    def group(self, kv_head):
        """Query heads reading key/value head ``kv_head`` (grouped-query attention)."""
        size = self.heads // self.kv_heads
        return range(kv_head * size, (kv_head + 1) * size)

    def block(self, head):
        return slice(head * self.head_dim, (head + 1) * self.head_dim)


def attention_modules(model, layers):
    """The attention blocks whose four projections are all in ``layers`` (a dict)."""
    found = []
    for name in sorted(layers):
        for query, key, value, output, attention, rotary in ATTENTION_PATTERNS:
            if not name.endswith(query):
                continue
            prefix = name[: -len(query)]
            names = [prefix + s for s in (query, key, value, output)]
            if all(n in layers for n in names):
                geometry = head_geometry(model.get_submodule(prefix + attention),
                                         *(layers[n] for n in names[:3]))
                found.append(AttentionModule(*names, *geometry, rotary))
    return found


def head_geometry(attention, query, key, value):
    """``(heads, kv_heads, head_dim)`` of a Hugging Face attention module, checked
    against the projections' widths."""
    config = getattr(attention, "config", None)
    heads = (getattr(attention, "num_attention_heads", None)
             or getattr(attention, "num_heads", None)
             or getattr(config, "num_attention_heads", None))
    head_dim = (getattr(attention, "attention_head_size", None)
                or getattr(attention, "head_dim", None)
                or (heads and query.out_features // heads))
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    widths = (query.out_features, key.out_features, value.out_features)
    if not heads or not head_dim or heads % kv_heads \
            or widths != (heads * head_dim, kv_heads * head_dim, kv_heads * head_dim):
        raise ValueError(f"cannot read the head geometry of {type(attention).__name__} "
                         "(heads, key/value heads and head size must match the projections)")
    return heads, kv_heads, head_dim


def output_energy(layer, statistics):
    """``Σ_t (W x_t + b)_i²`` for every output ``i``, from the input statistics."""
    W = layer.weight.detach().to(torch.float64)
    energy = torch.einsum("ij,jk,ik->i", W, statistics.covariance.to(W.device), W)
    if layer.bias is not None:
        b = layer.bias.detach().to(torch.float64)
        total = statistics.tokens * statistics.mean.to(W.device, torch.float64)
        energy = energy + 2 * b * (W @ total) + statistics.tokens * b * b
    return energy.clamp_min(0)


def query_key_selection(module, query_energy, key_energy, keep):
    """Kept coordinates per key head, ``(kv_heads × keep)`` sorted (type II, CR)."""
    d = module.head_dim
    q_norm = query_energy.sqrt().view(module.heads, d)
    k_norm = key_energy.sqrt().view(module.kv_heads, d)
    kept = []
    for g in range(module.kv_heads):
        score = k_norm[g] * q_norm[list(module.group(g))].sum(0)
        if module.rotary:  # i and i + d/2 rotate together
            pairs = torch.topk(score[: d // 2] + score[d // 2:], keep // 2).indices
            chosen = torch.cat([pairs, pairs + d // 2])
        else:
            chosen = torch.topk(score, keep).indices
        kept.append(torch.sort(chosen).values)
    return torch.stack(kept)


def value_output_factors(module, W_O, covariance, keep):
    """``[(B_h for the group's query heads), A]`` per key/value head, and the relative
    output error of the whole module (type III, SVD of the whitened stacked ``W_O^h``)."""
    W_O = W_O.detach().to(torch.float64)
    covariance = covariance.to(W_O.device)
    factors, dropped, total = [], 0.0, 0.0
    for g in range(module.kv_heads):
        heads = list(module.group(g))
        blocks = [module.block(h) for h in heads]
        C = sum(covariance[b, b] for b in blocks) / len(heads)
        S = cholesky_factor(C)
        M = torch.cat([W_O[:, b] for b in blocks])  # (heads · out) × head_dim
        U, s, Vt = torch.linalg.svd(M @ S, full_matrices=False)
        B = (U[:, :keep] * s[:keep]).split(W_O.shape[0])
        A = torch.linalg.solve_triangular(S.T, Vt[:keep].T, upper=True).T  # V_kᵀ S⁻¹
        factors.append((B, A))
        dropped, total = dropped + float((s[keep:] ** 2).sum()), total + float((s**2).sum())
    return factors, (dropped / total) ** 0.5 if total > 0 else 0.0


def compress_attention(module, layers, statistics, keep_query_key, keep_value):
    """The four projections of ``module`` narrowed to ``keep_query_key`` query–key and
    ``keep_value`` value coordinates per head.

    Returns
    -------
    new : dict of name -> IndexedLinear
    errors : dict of name -> (relative weight error, relative output error)
        Query and key: the dropped rows' share of the weight and of the output energy on
        the calibration tokens. Value and output: those of the value–output module
        (``W_O`` against ``B A`` and the whitened energy dropped), reported on both.
    """
    q, k, v, o = (layers[n] for n in module.names)
    d, per_group = module.head_dim, module.heads // module.kv_heads
    energies = {n: output_energy(layers[n], statistics[n]) for n in (module.query, module.key)}
    selection = query_key_selection(module, energies[module.query], energies[module.key],
                                    keep_query_key)
    offsets = d * torch.arange(module.kv_heads, device=selection.device)[:, None]
    rows = {module.key: (selection + offsets).flatten(),
            module.query: torch.cat([selection[h // per_group] + d * h
                                     for h in range(module.heads)])}
    new, errors = {}, {}
    for name, layer in ((module.query, q), (module.key, k)):
        kept = rows[name].to(layer.weight.device)
        new[name] = _indexed(layer, outputs=kept, weight=layer.weight.detach()[kept],
                             bias=None if layer.bias is None else layer.bias.detach()[kept])
        W = layer.weight.detach()
        errors[name] = (_share(W.square().sum(1), kept), _share(energies[name], kept))

    factors, vo_error = value_output_factors(module, o.weight, statistics[module.output]
                                             .covariance, keep_value)
    W_V = v.weight.detach().to(torch.float64)
    A = [a for _, a in factors]
    value_bias = None if v.bias is None else torch.cat(
        [a @ v.bias.detach().to(torch.float64)[module.block(g)] for g, a in enumerate(A)])
    new[module.value] = _indexed(
        v, outputs=torch.cat([torch.arange(keep_value) + d * g for g in range(module.kv_heads)]),
        weight=torch.cat([a @ W_V[module.block(g)] for g, a in enumerate(A)]),
        bias=value_bias)
    B = torch.cat([factors[h // per_group][0][h % per_group] for h in range(module.heads)],
                  dim=1)
    columns = torch.cat([torch.arange(keep_value) + d * h for h in range(module.heads)])
    new[module.output] = _indexed(o, inputs=columns, weight=B,
                                  bias=None if o.bias is None else o.bias.detach())
    W_O = o.weight.detach().to(torch.float64)
    approx = torch.zeros_like(W_O)
    for h in range(module.heads):
        approx[:, module.block(h)] = factors[h // per_group][0][h % per_group] \
            @ factors[h // per_group][1]
    weight_error = float(torch.linalg.norm(W_O - approx) / torch.linalg.norm(W_O))
    errors[module.value] = errors[module.output] = (weight_error, vo_error)
    return new, errors


def _indexed(layer, weight, bias, inputs=None, outputs=None):
    """An :class:`IndexedLinear` in place of ``layer`` holding ``weight`` and ``bias``."""
    device, dtype = layer.weight.device, layer.weight.dtype
    new = IndexedLinear(layer.in_features, layer.out_features, inputs=inputs, outputs=outputs,
                        bias=bias is not None, device=device, dtype=dtype)
    with torch.no_grad():
        new.weight.copy_(weight.to(dtype))
        if bias is not None:
            new.bias.copy_(bias.to(dtype))
    return new


def _share(values, kept):
    """sqrt of the share of ``values`` outside ``kept`` (a relative error from energies)."""
    total = float(values.sum())
    return max(0.0, 1.0 - float(values[kept].sum()) / total) ** 0.5 if total > 0 else 0.0


def compress_attentions(model, layers, statistics, ratio):
    """Narrow every attention block among ``layers`` (a dict) to keep ``1 − ratio`` of
    each head's query–key and value coordinates; reports by layer name."""
    reports = {}
    for module in attention_modules(model, layers):
        d = module.head_dim
        keep_query_key = max(1, round((1 - ratio) * d))
        if module.rotary:
            keep_query_key = 2 * max(1, round((1 - ratio) * d / 2))
        keep_value = max(1, round((1 - ratio) * d))
        new, errors = compress_attention(module, layers, statistics, keep_query_key, keep_value)
        for name, layer in new.items():
            shape = tuple(layers[name].weight.shape)
            keep = keep_value if name in (module.value, module.output) else keep_query_key
            replace_module(model, name, layer)
            reports[name] = LayerReport(name, shape, keep, shape[0] * shape[1],
                                        layer.weight.numel(), *errors[name], kept="width")
    return reports
