"""AdamW with its moments kept in a low-rank projection of each matrix gradient.

For a weight ``W`` (``m × n``) with gradient ``G``, a basis ``P`` with ``r`` orthonormal
columns spans the side of the smaller dimension (``P`` is ``m × r`` when ``m <= n``, else
``n × r``). The moments live on the projected gradient ``R = Pᵀ G`` (or ``G P``):

    M ← β₁ M + (1 − β₁) R,    V ← β₂ V + (1 − β₂) R²,    N = M̂ / (√V̂ + ε),
    W ← W − η (α P N + λ W)                                (or ``α N Pᵀ``)

with bias-corrected ``M̂, V̂``, scale ``α`` and decoupled weight decay ``λ`` (GaLore, Zhao et
al. 2024, paper 16). ``P`` is refreshed every ``update_every`` steps. The moments then either
stay as they are (``moments="keep"``, GaLore: row ``i`` of ``M`` now refers to the new
``i``-th direction) or are carried into the new basis (``moments="rotate"``, as paper 17 and
LDAdam do): with ``Q = P_oldᵀ P_new``,

    M ← Qᵀ M,    V ← (Q ∘ Q)ᵀ V,    c ← (Q ∘ Q)ᵀ c           (or ``M Q``, ``V (Q ∘ Q)``),

where ``c`` holds, per direction, the weight its moments have accumulated (``1 − βᵗ`` when
the basis never moves), used as that direction's bias correction ``M̂ = M / c₁``,
``V̂ = V / c₂``. For the DCT basis ``Q`` is a selection: a column kept by the refresh keeps its
moments, a new column starts afresh as in a new Adam (not at a step ``(1 − β₁)/√(1 − β₂) ≈ 3``
times too large, which a global bias correction gives it). ``V`` mixes by ``Q ∘ Q`` because a
variance of ``Σ_j q_j g_j`` over independent ``g_j`` is ``Σ_j q_j² v_j``.
The bases:

- ``"svd"``: the top-``r`` singular vectors of the current gradient (GaLore);
- ``"dct"``: SVD-free (paper 17): one orthonormal DCT-II matrix ``D`` per dimension,
  computed once and shared; a refresh keeps the ``r`` columns of ``D`` best aligned with the
  gradient (the largest row ℓ₁ norms of ``Dᵀ G``: one matmul and a sort), so a layer stores only
  ``r`` indices;
- ``"random"``: a seeded random orthonormal basis (Flora/APOLLO-style baseline).

Parameters that are not matrices, or whose smaller dimension is at most ``rank``, get plain
AdamW.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lrkit._validation import check_choice, check_int, check_real
from lrkit.registry import declare

BASES = declare("projection", "bases of ProjectedAdamW's low-rank optimizer state", {
    "svd": "the top-r left singular vectors of the gradient (GaLore, paper 16)",
    "dct": "the r DCT columns best aligned with the gradient (paper 17)",
    "random": "a seeded random orthonormal basis (the baseline)",
}, parameter="basis")
MOMENTS = ("rotate", "keep")


def dct_matrix(n, *, dtype=torch.float32, device=None):
    """The orthonormal DCT-II matrix (``n × n``; its columns are the cosine basis vectors)."""
    k = torch.arange(n, dtype=torch.float64, device=device)
    basis = torch.cos(math.pi * (k[:, None] + 0.5) * k[None, :] / n) * math.sqrt(2.0 / n)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.to(dtype)


class ProjectedAdamW(torch.optim.Optimizer):
    """AdamW whose moments of matrix parameters live in a rank-``r`` projection.

    Parameters
    ----------
    params : nn.Module or iterable of parameters / parameter groups
        A model (its trainable parameters) or what ``torch.optim.AdamW`` takes.
    rank : int
        Projection rank ``r``.
    basis : {"svd", "dct", "random"}
        How the projection is chosen (module docstring).
    update_every : int
        Steps between basis refreshes ``T`` (GaLore's default 200).
    moments : {"rotate", "keep"}
        What a refresh does to the moments: keep them as they are (GaLore, the default), or
        carry them into the new basis with per-direction bias correction (paper 17, LDAdam);
        module docstring.
    lr, betas, eps, weight_decay
        As ``torch.optim.AdamW``.
    scale : float
        ``α`` of the projected update (GaLore's default 0.25).
    seed : int, optional
        Seeds the random bases.

    Examples
    --------
    >>> import torch, lrkit.nn as lnn
    >>> model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(),
    ...                             torch.nn.Linear(64, 8))
    >>> opt = lnn.ProjectedAdamW(model, rank=4, basis="random", update_every=50, lr=1e-3)
    >>> adamw = torch.optim.AdamW(model.parameters(), lr=1e-3)
    >>> model(torch.randn(16, 64)).square().mean().backward(); opt.step(); adamw.step()
    >>> lnn.optimizer_state_bytes(opt) < 0.5 * lnn.optimizer_state_bytes(adamw)
    True
    """

    def __init__(self, params, rank=32, *, basis="svd", update_every=200, moments="keep",
                 lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, scale=0.25,
                 seed=None):
        if isinstance(params, nn.Module):
            params = [p for p in params.parameters() if p.requires_grad]
        check_int("rank", rank, 1)
        check_choice("basis", basis, BASES)
        check_int("update_every", update_every, 1)
        check_choice("moments", moments, MOMENTS)
        check_real("lr", lr, low=0.0)
        check_real("eps", eps, low=0.0)
        check_real("weight_decay", weight_decay, low=0.0)
        check_real("scale", scale, low=0.0, low_open=True)
        beta1, beta2 = betas
        check_real("betas[0]", beta1, 0.0, 1.0, high_open=True)
        check_real("betas[1]", beta2, 0.0, 1.0, high_open=True)
        defaults = {"lr": lr, "betas": (beta1, beta2), "eps": eps,
                    "weight_decay": weight_decay, "rank": rank, "basis": basis,
                    "update_every": update_every, "moments": moments, "scale": scale}
        super().__init__(params, defaults)
        self._generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self._dct = {}  # (size, dtype, device) -> DCT matrix, shared by all layers

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise ValueError("ProjectedAdamW does not take sparse gradients")
                self._update(param, group)
        return loss

    def _update(self, param, group):
        grad = param.grad
        state = self.state[param]
        beta1, beta2 = group["betas"]
        projected = grad.ndim == 2 and min(grad.shape) > group["rank"]
        if not state:
            state["step"] = 0
        state["step"] += 1
        step = state["step"]
        if projected:
            if (step - 1) % group["update_every"] == 0:
                self._refresh(state, grad, group)
            low = self._project(state, grad)
        else:
            low = grad
        if "exp_avg" not in state:
            state["exp_avg"] = torch.zeros_like(low)
            state["exp_avg_sq"] = torch.zeros_like(low)
            if projected and group["moments"] == "rotate":
                state["weight"] = low.new_zeros(2, group["rank"])  # c₁, c₂ per direction
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.mul_(beta1).add_(low, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(low, low, value=1 - beta2)
        correction1, correction2 = self._bias_corrections(state, step, beta1, beta2)
        direction = (exp_avg / correction1) / ((exp_avg_sq / correction2).sqrt() + group["eps"])
        if projected:
            direction = self._project_back(state, direction) * group["scale"]
        if group["weight_decay"]:
            param.mul_(1 - group["lr"] * group["weight_decay"])
        param.add_(direction, alpha=-group["lr"])

    @staticmethod
    def _bias_corrections(state, step, beta1, beta2):
        """``1 − βᵗ``; or, with ``moments="rotate"``, the per-direction weights ``c``, advanced
        by this step (``c ← β c + 1 − β``) and shaped to divide the moments."""
        if "weight" not in state:
            return 1 - beta1**step, 1 - beta2**step
        weight = state["weight"]
        weight.mul_(weight.new_tensor([[beta1], [beta2]])).add_(
            weight.new_tensor([[1 - beta1], [1 - beta2]]))
        return (weight[0, :, None], weight[1, :, None]) if state["left"] else (weight[0],
                                                                                weight[1])

    def _refresh(self, state, grad, group):
        """A new basis ``P`` for the side of the smaller dimension of ``grad``; with
        ``moments="rotate"`` the moments follow it."""
        old = self._basis(state, grad) if "weight" in state else None
        rank, kind = group["rank"], group["basis"]
        left = grad.shape[0] <= grad.shape[1]
        size = grad.shape[0] if left else grad.shape[1]
        state["left"], state["size"] = left, size
        if kind == "svd":
            U, _, Vh = torch.linalg.svd(grad.float(), full_matrices=False)
            state["basis"] = (U[:, :rank] if left else Vh[:rank].T).to(grad.dtype)
        elif kind == "random":
            draw = torch.randn(size, rank, generator=self._generator)
            state["basis"] = torch.linalg.qr(draw)[0].to(grad.dtype).to(grad.device)
        else:
            D = self._dct_for(size, grad)
            coefficients = D.T @ grad if left else grad @ D  # size × other, or other × size
            alignment = coefficients.abs().sum(dim=1 if left else 0)
            state["indices"] = torch.topk(alignment, rank).indices.sort().values
        if old is not None:
            self._rotate_moments(state, old.T @ self._basis(state, grad))

    @staticmethod
    def _rotate_moments(state, change):
        """Carry ``M``, ``V`` and the weights ``c`` into the new basis (``Q = P_oldᵀ P_new``)."""
        mix = change.square()
        state["weight"].copy_(state["weight"] @ mix)
        if state["left"]:  # moments are r × n: rows follow the basis
            state["exp_avg"].copy_(change.T @ state["exp_avg"])
            state["exp_avg_sq"].copy_(mix.T @ state["exp_avg_sq"])
        else:  # moments are m × r: columns follow the basis
            state["exp_avg"].copy_(state["exp_avg"] @ change)
            state["exp_avg_sq"].copy_(state["exp_avg_sq"] @ mix)

    def _basis(self, state, like):
        if "indices" in state:
            return self._dct_for(state["size"], like)[:, state["indices"]]
        return state["basis"]

    def _project(self, state, grad):
        P = self._basis(state, grad)
        return P.T @ grad if state["left"] else grad @ P

    def _project_back(self, state, low):
        P = self._basis(state, low)
        return P @ low if state["left"] else low @ P.T

    def _dct_for(self, size, like):
        key = (size, like.dtype, like.device)
        if key not in self._dct:
            self._dct[key] = dct_matrix(size, dtype=like.dtype, device=like.device)
        return self._dct[key]


def optimizer_state_bytes(optimizer):
    """Bytes of the tensors an optimizer holds: its per-parameter state (moments, projection
    bases, indices, step counters) plus, for :class:`ProjectedAdamW`, the shared DCT matrices.
    Optimizers allocate their state on the first step, so count after one."""
    total = 0
    for state in optimizer.state.values():
        for value in state.values():
            if torch.is_tensor(value):
                total += value.numel() * value.element_size()
    for matrix in getattr(optimizer, "_dct", {}).values():
        total += matrix.numel() * matrix.element_size()
    return total
