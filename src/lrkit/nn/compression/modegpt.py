"""MoDeGPT's module-level compression of MLPs: Nyström selection of intermediate neurons.

An MLP ``down(σ(up x))`` (or ``down(σ(gate x) ⊙ up x)``) is compressed as a *module*: its
intermediate width D shrinks to k, so ``up`` (and ``gate``) lose rows and ``down`` loses
columns, and the result is plain, smaller ``nn.Linear`` layers (MoDeGPT, Lin et al.,
ICLR 2025, type I). With ``C = Σ_t h_t h_tᵀ`` the correlation of the intermediate
activations ``h = σ(up x)`` on calibration data (the input covariance of ``down``):

1. neurons are ranked by their ridge leverage scores ``diag(C (C + λ I)⁻¹)``, with
   ``λ = ridge · tr(C) / D``, and the top k are kept (selection ``S``);
2. ``down`` is refitted to reproduce the module output from the kept neurons (the Nyström
   approximation of C): ``W_down' = W_down C[:, S] C[S, S]⁻¹``, which minimises
   ``Σ_t ‖W_down h_t − W_down' h_{t,S}‖²``.

The MLPs are found by structure (:func:`lrkit.nn.structure.mlp_pairs`), in any family. No
gradient is taken. Attention (types II and III) is in :mod:`.modegpt_attention`.
"""

from __future__ import annotations

import torch

from lrkit.nn.compression.factorization import output_error
from lrkit.nn.compression.report import LayerReport
from lrkit.nn.layers import ResizedLinear
from lrkit.nn.structure import mlp_pairs
from lrkit.nn.surgery import replace_module

#: Ridge of the leverage scores, relative to the mean eigenvalue of C.
RIDGE = 1.0


def ridge_leverage(C, ridge=RIDGE):
    """``diag(C (C + λ I)⁻¹)`` with ``λ = ridge · tr(C) / D``: how much each neuron's
    activation is not explained by the others (1: independent, 0: redundant or dead)."""
    C = C.detach().to(torch.float64)
    lam = ridge * float(torch.trace(C)) / C.shape[0]
    if lam <= 0:
        return torch.zeros(C.shape[0], dtype=torch.float64, device=C.device)
    eye = torch.eye(C.shape[0], dtype=C.dtype, device=C.device)
    return torch.diagonal(torch.linalg.solve(C + lam * eye, C)).clamp(0, 1)


def nystrom_mlp(ups, down, C, keep, ridge=RIDGE):
    """Smaller ``(ups, down)`` keeping ``keep`` intermediate neurons, and the selection.

    Parameters
    ----------
    ups : list of nn.Linear
        The layers that produce the intermediate activations (gate and up).
    down : nn.Linear
    C : torch.Tensor (D × D)
        ``Σ_t h_t h_tᵀ`` of the inputs of ``down``.
    keep : int
    """
    width = down.in_features
    if not 1 <= keep <= width:
        raise ValueError(f"keep must be in [1, {width}]; got {keep}")
    selected = torch.sort(torch.topk(ridge_leverage(C, ridge), keep).indices).values
    C = C.detach().to(torch.float64)
    block = C[selected][:, selected]
    block = block + 1e-10 * float(torch.trace(block)) / keep * torch.eye(
        keep, dtype=C.dtype, device=C.device)
    W = down.weight.detach().to(torch.float64)
    refit = torch.linalg.solve(block, (W @ C[:, selected]).T).T  # W C[:,S] C[S,S]⁻¹
    new_ups = []
    for up in ups:
        layer = ResizedLinear(up.in_features, keep, bias=up.bias is not None,
                          device=up.weight.device, dtype=up.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(up.weight[selected])
            if up.bias is not None:
                layer.bias.copy_(up.bias[selected])
        new_ups.append(layer)
    new_down = ResizedLinear(keep, down.out_features, bias=down.bias is not None,
                         device=down.weight.device, dtype=down.weight.dtype)
    with torch.no_grad():
        new_down.weight.copy_(refit.to(down.weight.dtype))
        if down.bias is not None:
            new_down.bias.copy_(down.bias)
    return new_ups, new_down, selected


def compress_mlps(model, layers, stats, ratio):
    """Compress every MLP among ``layers`` by Nyström neuron selection (:mod:`modegpt`),
    keeping ``1 − ratio`` of the intermediate neurons; reports by layer name."""
    reports = {}
    for ups, down in mlp_pairs(model, layers):
        module = layers[down]
        width = module.in_features
        keep = max(1, int((1 - ratio) * width))
        new_ups, new_down, selected = nystrom_mlp([layers[u] for u in ups], module,
                                                  stats[down].covariance, keep)
        for name, new in zip(ups, new_ups, strict=True):
            W = replace_module(model, name, new).weight.detach()
            kept = torch.zeros_like(W)
            kept[selected] = W[selected]  # the dropped neurons' outputs are what is lost
            reports[name] = LayerReport(name, tuple(W.shape), keep, W.numel(), new.weight.numel(),
                                        float(torch.linalg.norm(W - kept) / torch.linalg.norm(W)),
                                        output_error(W, kept, stats[name]), kept="width")
        W = module.weight.detach()
        embedded = torch.zeros_like(W)
        embedded[:, selected] = new_down.weight.detach()
        replace_module(model, down, new_down)
        reports[down] = LayerReport(down, tuple(W.shape), keep, W.numel(),
                                    new_down.weight.numel(),
                                    float(torch.linalg.norm(W - embedded) / torch.linalg.norm(W)),
                                    output_error(W, embedded, stats[down]), kept="width")
    return reports
