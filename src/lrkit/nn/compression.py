"""Whole-model compression: calibrate, allocate ranks, factorise, replace layers, report."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch

from lrkit._validation import check_int, check_real
from lrkit.nn.allocation import ALLOCATIONS, allocate, layer_cost
from lrkit.nn.factorization import Decomposition, eora_factors, output_error
from lrkit.nn.layers import CompensatedLinear, LowRankLinear
from lrkit.nn.methods import get_factorization
from lrkit.nn.surgery import calibrate, replace_module, select_layers

#: Rank of the EoRA compensation added by ``compress(..., eora=True)`` unless given.
EORA_RANK = 16


@dataclass
class LayerReport:
    name: str
    shape: tuple
    rank: int | None
    params_before: int
    params_after: int
    weight_error: float
    output_error: float


@dataclass
class CompressionReport:
    """Per-layer outcome of :func:`compress` (``rank=None``: the layer stayed dense)."""

    method: str
    ratio: float
    allocation: str
    seconds: float
    layers: list = field(default_factory=list)

    @property
    def params_before(self):
        return sum(layer.params_before for layer in self.layers)

    @property
    def params_after(self):
        return sum(layer.params_after for layer in self.layers)

    @property
    def achieved_ratio(self):
        """Fraction of the targeted layers' parameters actually removed."""
        return 1.0 - self.params_after / self.params_before

    def rows(self):
        """One row of strings per layer: the columns of :data:`COLUMNS`."""
        return [(r.name, f"{r.shape[0]}x{r.shape[1]}", "dense" if r.rank is None else str(r.rank),
                 f"{r.params_before:,}", f"{r.params_after:,}", f"{r.weight_error:.3f}",
                 f"{r.output_error:.3f}") for r in self.layers]

    @property
    def title(self):
        return (f"lrkit compress: {self.method}, ratio {self.ratio:g} ({self.allocation}), "
                f"removed {self.achieved_ratio:.1%} in {self.seconds:.1f} s")

    def __str__(self):
        rows = [COLUMNS, *self.rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                           for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                 for row in rows]
        return "\n".join([self.title, *lines])


#: Column names of :meth:`CompressionReport.rows`.
COLUMNS = ("layer", "shape", "rank", "params before", "params after", "weight err.",
           "output err.")


def compress(model, ratio, method="whiten", *, calibration=None, allocation="uniform",
             layers=None, loss_fn=None, fisher_axis="out", eora=False, eora_rank=EORA_RANK,
             inplace=False, progress=None, statistics=None):
    """Replace a model's linear layers by low-rank factors.

    Parameters
    ----------
    model : torch.nn.Module
    ratio : float in (0, 1)
        Fraction of the targeted layers' parameters to remove.
    method : {"svd", "fwsvd", "asvd", "whiten"}
        See :mod:`lrkit.nn.factorization` (plain, Fisher-weighted, activation-scaled, whitened).
    calibration : iterable of model inputs
        Needed by every method but ``"svd"`` (and for the report's output errors). Each
        item is ``model(**batch)`` (a dict, e.g. tokenizer output) or ``model(batch)``.
    allocation : {"uniform", "energy", "welore"}
        Rank allocation rule (:func:`lrkit.nn.allocation.allocate`).
    layers : list of names or dict of name -> nn.Linear, optional
        Default: the attention and MLP linear layers (:func:`linear_layers`).
    loss_fn : callable(model, batch) -> scalar, optional
        Loss whose squared gradients give the Fisher weights of ``"fwsvd"``.
    fisher_axis : {"out", "in"}
    eora : bool
        Add an EoRA compensation of rank ``eora_rank`` to every factorised layer.
    inplace : bool
        Modify ``model`` instead of a deep copy.
    progress : callable(stage, done, total), optional
        Called as work advances: ``("calibration", batches done, batches or None)`` while
        calibrating, then ``("decompositions", done, layers)`` while each layer's SVD is
        computed, then ``("layers", done, layers)`` as they are replaced.
    statistics : dict of name -> LayerStatistics, optional
        Statistics from an earlier :func:`lrkit.nn.calibrate` of the same model and
        layers: reused instead of calibrating again (a sweep over ratios or methods
        calibrates once).

    Returns
    -------
    (torch.nn.Module, CompressionReport)
    """
    ratio = check_real("ratio", ratio, 0.0, 1.0, low_open=True, high_open=True)
    factorization = get_factorization(method)
    if eora:
        eora_rank = check_int("eora_rank", eora_rank, 1)
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}; got {allocation!r}")
    if statistics is None:
        if factorization.needs_loss and loss_fn is None:
            raise ValueError(f"method={method!r} needs loss_fn (its weights come from gradients)")
        if (factorization.needs_data or eora) and calibration is None:
            raise ValueError(f"method={method!r}{' with eora' if eora else ''} needs "
                             "calibration data")
    start = time.perf_counter()
    target = model if inplace else copy.deepcopy(model)
    layers = select_layers(target, layers)
    if statistics is not None:
        stats = statistics
    elif calibration is not None:
        total = len(calibration) if hasattr(calibration, "__len__") else None
        stats = calibrate(target, layers, calibration,
                          loss_fn if factorization.needs_loss else None,
                          progress=progress and (lambda done: progress("calibration", done,
                                                                       total)))
    else:
        stats = {}
    decompositions = {}
    for done, (name, module) in enumerate(layers.items(), start=1):
        decompositions[name] = Decomposition(module.weight, method, stats.get(name), fisher_axis)
        if progress is not None:
            progress("decompositions", done, len(layers))
    shapes = {name: tuple(module.weight.shape) for name, module in layers.items()}
    ranks = allocate({n: d.s.cpu().numpy() for n, d in decompositions.items()}, shapes, ratio,
                     allocation)
    if eora:
        _check_eora_budget(ranks, shapes, eora_rank)
    report = CompressionReport(method, ratio, allocation, 0.0)
    for done, (name, module) in enumerate(layers.items(), start=1):
        report.layers.append(_compress_layer(target, name, module, decompositions[name],
                                             ranks[name], stats.get(name), eora, eora_rank))
        if progress is not None:
            progress("layers", done, len(layers))
    report.seconds = time.perf_counter() - start
    return target, report


def _check_eora_budget(ranks, shapes, eora_rank):
    """Refuse an EoRA rank that would make a compressed layer larger than the dense one."""
    for name, rank in ranks.items():
        out, inp = shapes[name]
        if rank is not None and (rank + eora_rank) * (out + inp) >= out * inp:
            raise ValueError(f"eora_rank={eora_rank} on top of rank {rank} makes layer {name} "
                             f"({out}x{inp}) larger than dense; lower eora_rank or raise ratio")


def _compress_layer(model, name, module, decomposition, rank, statistics, eora, eora_rank):
    W = module.weight.detach()
    shape = tuple(W.shape)
    if rank is None:
        return LayerReport(name, shape, None, W.numel(), W.numel(), 0.0, 0.0)
    B, A = decomposition.factors(rank)
    bias = None if module.bias is None else module.bias.detach()
    new = LowRankLinear.from_factors(B.to(W.dtype), A.to(W.dtype), bias)
    params = layer_cost(shape, rank)
    if eora:
        Bc, Ac = eora_factors(W, new.weight, eora_rank, statistics)
        new = CompensatedLinear(new, Bc.to(W.dtype), Ac.to(W.dtype))
        params += Ac.shape[0] * sum(shape)
    replace_module(model, name, new)
    approx = new.weight.detach()
    weight_error = float(torch.linalg.norm(W - approx) / torch.linalg.norm(W))
    out_error = float("nan") if statistics is None else output_error(W, approx, statistics)
    return LayerReport(name, shape, rank, W.numel(), params, weight_error, out_error)
