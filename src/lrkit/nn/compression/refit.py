"""Sequential closed-form refit of compressed layers (SVD-LLM's parameter update).

Layers are compressed in the order the model runs them. Layer ℓ with weight ``W`` and bias
``b`` should reproduce the *original* model's output ``y = W x + b`` on the original input
``x``, but in the compressed model it receives ``x̂``, the input its already-compressed
predecessors produce. The rank-r layer ``Z x̂ + b'`` closest to it on the calibration tokens,

    min_{rank Z ≤ r, b'}  Σ_t ‖W x_t + b − Z x̂_t − b'‖²,

has a closed form. With centred moments ``Ĉ = Σ (x̂ − μ̂)(x̂ − μ̂)ᵀ = Ŝ Ŝᵀ`` and
``M = Σ (x − μ)(x̂ − μ̂)ᵀ``, the unconstrained optimum is ``Z* = W M Ĉ⁻¹`` and the objective is
``‖(Z − Z*) Ŝ‖²_F`` plus a constant, so the best rank-r ``Z`` is the truncated SVD of
``Z* Ŝ = W M Ŝ⁻ᵀ = U Σ Vᵀ`` mapped back, ``B = U_r Σ_r^{1/2}``, ``A = Σ_r^{1/2} V_rᵀ Ŝ⁻¹``,
and ``b' = b + W μ − B A μ̂``. A layer without bias uses uncentred moments and keeps no bias.

This is the truncation-aware whitening of SVD-LLM (Wang et al., ICLR 2025) solved jointly
with its least-squares update of the factors against the original outputs (arXiv v1, the
"layer-wise closed-form update"), so truncation error and the drift of earlier layers are
corrected together. With ``x̂ = x`` (nothing compressed before) it is plain whitening.

Statistics come from two forward passes per *stage* (the layers that read the same input,
e.g. query, key and value), one through the original model and one through the compressed
model, both stopped as soon as the stage's input is seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lrkit.nn.compression.whitening import cholesky_factor
from lrkit.nn.statistics import _call, _move, _token_mask


class _StageReached(Exception):
    """Raised by a hook to stop a forward pass once the stage's input has been seen."""


@dataclass
class PairedStatistics:
    """Moments of a layer's original inputs ``x`` and compressed-model inputs ``x̂``.

    ``C = Σ x xᵀ``, ``C_hat = Σ x̂ x̂ᵀ``, ``M = Σ x x̂ᵀ`` (uncentred, float64), the sums
    ``s = Σ x``, ``s_hat = Σ x̂`` and the token count.
    """

    C: torch.Tensor
    C_hat: torch.Tensor
    M: torch.Tensor
    s: torch.Tensor
    s_hat: torch.Tensor
    tokens: int = 0

    @classmethod
    def zeros(cls, n, device=None):
        """Empty moments of ``n``-wide inputs."""
        square = [torch.zeros(n, n, dtype=torch.float64, device=device) for _ in range(3)]
        return cls(*square, *(torch.zeros(n, dtype=torch.float64, device=device)
                              for _ in range(2)))

    def add(self, x, x_hat):
        self.C += x.T @ x
        self.C_hat += x_hat.T @ x_hat
        self.M += x.T @ x_hat
        self.s += x.sum(0)
        self.s_hat += x_hat.sum(0)
        self.tokens += x.shape[0]

    def moments(self, centred):
        """``(C, C_hat, M, μ, μ̂)``, centred on the means when ``centred``."""
        n = max(self.tokens, 1)
        mu, mu_hat = self.s / n, self.s_hat / n
        if not centred:
            return self.C, self.C_hat, self.M, mu, mu_hat
        return (self.C - n * torch.outer(mu, mu), self.C_hat - n * torch.outer(mu_hat, mu_hat),
                self.M - n * torch.outer(mu, mu_hat), mu, mu_hat)


def layer_stages(model, layers, batch):
    """Groups of layer names that read the same input, in the order the model runs them.

    One forward pass of ``batch`` records each layer's input; layers whose input is the
    same tensor (query, key, value of one attention block) form one stage.
    """
    order, seen = [], {}

    def hook(name):
        def record(module, inputs, output):
            key = (inputs[0].data_ptr(), tuple(inputs[0].shape))
            if name not in seen:
                seen[name] = key
                order.append(name)
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in layers.items()]
    try:
        with torch.no_grad():
            _call(model, _move(batch, next(model.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in layers if name not in seen]
    if missing:
        raise ValueError(f"layers never ran on the calibration batch: {missing[:3]}")
    stages = []
    for name in order:
        if stages and seen[stages[-1][0]] == seen[name]:
            stages[-1].append(name)
        else:
            stages.append([name])
    return stages


def _stage_inputs(model, modules, batch):
    """The inputs of ``modules`` (tokens × features, float64, padding dropped) when
    ``model`` runs ``batch``; the forward pass stops once the last of them has run."""
    captured = {}

    def grab(index):
        def hook(mod, inputs):
            captured.setdefault(index, inputs[0].detach())
            if len(captured) == len(modules):
                raise _StageReached
        return hook

    handles = [module.register_forward_pre_hook(grab(i)) for i, module in enumerate(modules)]
    try:
        with torch.no_grad():
            _call(model, batch)
    except _StageReached:
        pass
    finally:
        for handle in handles:
            handle.remove()
    mask = _token_mask(batch)
    inputs = []
    for index in range(len(modules)):
        x = captured[index]
        if mask is not None and x.dim() == 3 and x.shape[:2] == mask.shape:
            x = x[mask]
        inputs.append(x.reshape(-1, x.shape[-1]).to(torch.float64))
    return inputs


def paired_statistics(original, compressed, original_modules, compressed_modules, batches):
    """:class:`PairedStatistics` of several stages at once: the input of each
    ``original_modules[i]`` in ``original`` against that of ``compressed_modules[i]`` in
    ``compressed``, on ``batches`` (one pass of each model per batch)."""
    device = next(compressed.parameters()).device
    stats = [None] * len(original_modules)
    for batch in batches:
        batch = _move(batch, device)
        xs = _stage_inputs(original, original_modules, batch)
        x_hats = _stage_inputs(compressed, compressed_modules, batch)
        for index, (x, x_hat) in enumerate(zip(xs, x_hats, strict=True)):
            if stats[index] is None:
                stats[index] = PairedStatistics.zeros(x.shape[1], x.device)
            stats[index].add(x, x_hat)
    if stats[0] is None:
        raise ValueError("calibration batches are empty")
    for entry in stats:
        if not (torch.isfinite(entry.C_hat).all() and torch.isfinite(entry.M).all()):
            raise ValueError("calibration inputs contain NaN or inf (a batch with non-finite "
                             "values, or an overflow, e.g. in float16)")
    return stats


class RefitProblem:
    """The layer's least-squares problem: one SVD of ``W M Ŝ⁻ᵀ`` serves every rank.

    Parameters
    ----------
    W : torch.Tensor (out × in)
    bias : torch.Tensor (out,) or None
        With a bias the moments are centred and the bias is refitted.
    statistics : PairedStatistics
    """

    def __init__(self, W, bias, statistics, ridge=0.0):
        self.dtype = W.dtype
        W = W.detach().to(torch.float64)
        self.W, self.bias = W, None if bias is None else bias.detach().to(torch.float64)
        C, C_hat, M, self.mu, self.mu_hat = statistics.moments(centred=bias is not None)
        if ridge:
            C_hat = C_hat + ridge * torch.trace(C_hat) / C_hat.shape[0] * torch.eye(
                C_hat.shape[0], dtype=C_hat.dtype, device=C_hat.device)
        self.S = cholesky_factor(C_hat)
        # Z* Ŝ = W M Ĉ⁻¹ Ŝ = W M Ŝ⁻ᵀ
        target = torch.linalg.solve_triangular(self.S, (W @ M).T, upper=False).T
        self.U, self.s, self.Vt = torch.linalg.svd(target, full_matrices=False)
        self.energy = float(torch.sum((W @ C) * W))  # ‖W X‖² (centred with a bias)

    def error(self, rank):
        """Relative output error ``‖W X − Z X̂‖ / ‖W X‖`` of the rank-``rank`` refit."""
        kept = float(torch.sum(self.s[:rank] ** 2))
        return (max(self.energy - kept, 0.0) / self.energy) ** 0.5 if self.energy > 0 else 0.0

    def factors(self, rank):
        """``(B, A, bias)`` of the rank-``rank`` refit, in the weight's dtype."""
        root = self.s[:rank].sqrt()
        B = self.U[:, :rank] * root
        A = torch.linalg.solve_triangular(self.S.T, (root[:, None] * self.Vt[:rank]).T,
                                          upper=True).T
        bias = None
        if self.bias is not None:
            bias = self.bias + self.W @ self.mu - B @ (A @ self.mu_hat)
            bias = bias.to(self.dtype)
        return B.to(self.dtype), A.to(self.dtype), bias
