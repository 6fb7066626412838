"""Maestro (paper 26): ordered dropout over rank-1 components, so that every truncation
``W_k = Σ_{i<=k} b_i a_iᵀ`` is a good layer, and the rank discovered during training.

At each training forward a rank ``k`` is drawn uniformly from ``1..r`` and only the first
``k`` components are used, which orders them by importance; in evaluation the layer uses
``eval_rank`` components (all by default; see :func:`lrkit.nn.truncate`). Initialised from
the top-``r`` singular part of the starting weight. Parameters: ``r (in + out)``.

Rank discovery (Horváth et al. 2024, "Maestro: Uncovering Low-Rank Structures via Trainable
Decomposition"): the loss carries the hierarchical group lasso
``λ Σ_ℓ Σ_i ‖[b_i … b_r; a_i … a_r]‖_F`` (every tail of components is one group, so the
last components are pushed to zero first; :func:`group_lasso`), and every few steps
:func:`shrink` cuts the trailing components whose importance ``‖b_i‖ ‖a_i‖ = ‖b_i a_iᵀ‖_F``
fell below ``tolerance`` times the layer's largest (progressive shrinking); the ranks left
are the discovered ones, layer by layer.

>>> model = lnn.lowrank_model(model, method="maestro", rank=64)          # doctest: +SKIP
>>> loss = task_loss + group_lasso(model, 1e-3)                          # doctest: +SKIP
>>> shrink(model, 0.05, optimizer)   # every few hundred steps          # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit._validation import check_real
from lrkit.nn.training.base import serializable
from lrkit.nn.training.plain import FactoredLinear


@serializable
class MaestroLinear(FactoredLinear):
    """``B A`` whose rank-1 components are trained under ordered dropout."""

    kind = "maestro"

    def build(self):
        super().build()
        self.eval_rank = self.rank

    def active_rank(self):
        if self.training and torch.is_grad_enabled():
            return int(torch.randint(1, self.rank + 1, ()))
        return self.eval_rank

    @property
    def weight(self):
        return self.B[:, :self.eval_rank] @ self.A[:self.eval_rank]

    def forward(self, x):
        k = self.active_rank()
        return nn.functional.linear(nn.functional.linear(x, self.A[:k]), self.B[:, :k],
                                    self.bias)

    def importance(self):
        """``‖b_i‖ ‖a_i‖``: the Frobenius norm of each rank-1 component ``b_i a_iᵀ``."""
        return self.B.detach().norm(dim=0) * self.A.detach().norm(dim=1)

    def tail_norms(self):
        """``‖[b_i … b_r; a_i … a_r]‖_F`` for every ``i``: the hierarchical groups."""
        energy = self.B.pow(2).sum(0) + self.A.pow(2).sum(1)
        return energy.flip(0).cumsum(0).flip(0).clamp_min(1e-30).sqrt()


def group_lasso(model, weight):
    """``weight · Σ`` of every Maestro layer's tail norms (add it to the training loss)."""
    layers = [m for m in model.modules() if isinstance(m, MaestroLinear)]
    if not layers:
        raise ValueError("model has no Maestro layers: lnn.lowrank_model(model, 'maestro')")
    return weight * sum(layer.tail_norms().sum() for layer in layers)


@torch.no_grad()
def shrink(model, tolerance, optimizer=None):
    """Cut each Maestro layer's trailing components whose importance is below ``tolerance``
    times the layer's largest (at least one is kept), in place.

    The cut factors are new parameters; with ``optimizer``, its references and per-parameter
    state (AdamW's moments) move to them, cut the same way, so training goes on with the same
    optimizer. Returns ``{name: rank}``.
    """
    tolerance = check_real("tolerance", tolerance, 0.0, 1.0)
    ranks = {}
    for name, layer in model.named_modules():
        if not isinstance(layer, MaestroLinear):
            continue
        importance = layer.importance()
        above = torch.nonzero(importance >= tolerance * importance.max())
        keep = int(above.max()) + 1 if above.numel() else 1
        if keep < layer.rank:
            _cut(layer, "B", keep, 1, optimizer)
            _cut(layer, "A", keep, 0, optimizer)
            layer.rank, layer.eval_rank = keep, min(layer.eval_rank, keep)
        ranks[name] = layer.rank
    if not ranks:
        raise ValueError("model has no Maestro layers: lnn.lowrank_model(model, 'maestro')")
    return ranks


def _cut(layer, name, keep, dim, optimizer):
    """Replace ``layer.<name>`` by its first ``keep`` slices along ``dim`` (a new parameter:
    autograd keeps a leaf's shape), and move ``optimizer``'s reference and state to it."""
    old = getattr(layer, name)
    new = nn.Parameter(old.detach().narrow(dim, 0, keep).clone(),
                       requires_grad=old.requires_grad)
    setattr(layer, name, new)
    if optimizer is None:
        return
    for group in optimizer.param_groups:
        group["params"] = [new if p is old else p for p in group["params"]]
    state = optimizer.state.pop(old, None)
    if state is not None:
        optimizer.state[new] = {key: value.narrow(dim, 0, keep).clone()
                                if torch.is_tensor(value) and value.shape == old.shape
                                else value for key, value in state.items()}
