"""Pruning baselines and EoRA compensation of any compressed model."""

from __future__ import annotations

import copy

import torch

from lrkit.nn.compression.factorization import eora_factors, output_error
from lrkit.nn.compression.report import LayerReport
from lrkit.nn.layers import CompensatedLinear
from lrkit.nn.statistics import collect_statistics
from lrkit.nn.surgery import replace_module, select_layers

PATTERNS = ("2:4", "magnitude")


def prune(model, sparsity=0.5, pattern="2:4", layers=None, inplace=False):
    """Zero weights of the targeted linear layers by magnitude.

    ``pattern="2:4"``: in every group of 4 consecutive inputs keep the 2 largest (the
    semi-structured sparsity GPUs accelerate; ``sparsity`` is then 0.5). ``"magnitude"``:
    zero the ``sparsity`` fraction of smallest-magnitude entries of each layer.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}; got {pattern!r}")
    if not 0.0 < sparsity < 1.0:
        raise ValueError(f"sparsity must be in (0, 1); got {sparsity}")
    target = model if inplace else copy.deepcopy(model)
    for name, module in select_layers(target, layers).items():
        W = module.weight.detach()
        if pattern == "2:4":
            if W.shape[1] % 4:
                raise ValueError(f"2:4 pruning needs in_features divisible by 4 ({name})")
            groups = W.abs().reshape(W.shape[0], -1, 4)
            keep = torch.zeros_like(groups, dtype=torch.bool)
            keep.scatter_(2, groups.topk(2, dim=2).indices, True)
            mask = keep.reshape(W.shape)
        else:
            count = int(sparsity * W.numel())
            threshold = W.abs().flatten().kthvalue(count).values if count else -1.0
            mask = W.abs() > threshold
        with torch.no_grad():
            module.weight.mul_(mask)
    return target


def compensate(original, compressed, calibration, rank, layers=None):
    """Add EoRA low-rank compensation to every targeted layer of ``compressed``.

    For each layer, ``W`` comes from ``original`` and ``Ŵ`` from ``compressed`` (any module
    with a ``weight``); the input covariance is gathered on the compressed model, so later
    layers see the inputs their compressed predecessors produce. The layer becomes
    ``Ŵ x + B (A x)`` (:class:`CompensatedLinear`) with ``B A`` from
    :func:`~lrkit.nn.compression.factorization.eora_factors`. Returns a new model.
    """
    result = copy.deepcopy(compressed)
    names = list(select_layers(original, layers))
    modules = dict(result.named_modules())
    missing = [n for n in names if n not in modules or not hasattr(modules[n], "weight")]
    if missing:
        raise ValueError(f"compressed model lacks layers {missing[:3]}: not the same architecture")
    stats = collect_statistics(result, calibration, {n: modules[n] for n in names})
    originals = dict(original.named_modules())
    for name in names:
        W = originals[name].weight.detach()
        B, A = eora_factors(W, modules[name].weight.detach(), rank, stats[name])
        replace_module(result, name, CompensatedLinear(modules[name], B.to(W.dtype), A.to(W.dtype)))
    return result


def check_eora_budget(ranks, shapes, eora_rank):
    """Refuse an EoRA rank that would make a compressed layer larger than the dense one."""
    for name, rank in ranks.items():
        out, inp = shapes[name]
        if rank is not None and (rank + eora_rank) * (out + inp) >= out * inp:
            raise ValueError(f"eora_rank={eora_rank} on top of rank {rank} makes layer {name} "
                             f"({out}x{inp}) larger than dense; lower eora_rank or raise ratio")


def add_eora(model, name, W, report, statistics, eora_rank):
    """Wrap the factorised layer ``name`` with an EoRA compensation of ``W``'s residual."""
    if report.rank is None:
        return report
    W = W.detach()
    factored = model.get_submodule(name)
    Bc, Ac = eora_factors(W, factored.weight, eora_rank, statistics)
    new = CompensatedLinear(factored, Bc.to(W.dtype), Ac.to(W.dtype))
    replace_module(model, name, new)
    approx = new.weight.detach()
    return LayerReport(name, report.shape, report.rank, report.params_before,
                       report.params_after + Ac.shape[0] * sum(report.shape),
                       float(torch.linalg.norm(W - approx) / torch.linalg.norm(W)),
                       output_error(W, approx, statistics))
