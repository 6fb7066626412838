"""Whole-model compression: calibrate, allocate ranks, factorise, replace layers, report."""

from __future__ import annotations

import copy
import io
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from lrkit.nn.allocation import ALLOCATIONS, allocate, layer_cost
from lrkit.nn.calibration import collect_statistics, linear_layers
from lrkit.nn.factorize import METHODS, Decomposition, eora_factors, output_error
from lrkit.nn.layers import CompensatedLinear, LowRankLinear

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

    def table(self):
        """A ``rich`` table: shape, rank, parameters, weight and output errors per layer."""
        from rich.table import Table

        table = Table(title=f"lrkit compress: {self.method}, ratio {self.ratio:g} "
                      f"({self.allocation}), removed {self.achieved_ratio:.1%} in "
                      f"{self.seconds:.1f} s")
        for column in ("layer", "shape", "rank", "params before", "params after",
                       "weight err.", "output err."):
            table.add_column(column, justify="left" if column == "layer" else "right")
        for r in self.layers:
            table.add_row(r.name, f"{r.shape[0]}x{r.shape[1]}",
                          "dense" if r.rank is None else str(r.rank), f"{r.params_before:,}",
                          f"{r.params_after:,}", f"{r.weight_error:.3f}",
                          f"{r.output_error:.3f}")
        return table

    def __str__(self):
        from rich.console import Console

        console = Console(width=130, record=True, file=io.StringIO())
        console.print(self.table())
        return console.export_text()


def _replace(model, name, module):
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def check_model_and_layers(model, layers):
    if layers is None:
        layers = linear_layers(model)
    elif isinstance(layers, (list, tuple)):
        modules = dict(model.named_modules())
        missing = [n for n in layers if not isinstance(modules.get(n), nn.Linear)]
        if missing:
            raise ValueError(f"not nn.Linear layers of the model: {missing[:3]}")
        layers = {n: modules[n] for n in layers}
    if not layers:
        raise ValueError("the model has no matching nn.Linear layers to compress")
    for name, module in layers.items():
        if not torch.isfinite(module.weight).all():
            raise ValueError(f"layer {name} has a non-finite weight (NaN or inf)")
    return layers


def calibrate(model, layers, calibration, loss_fn=None):
    """:func:`collect_statistics` with a clear error when a batch does not fit the model."""
    try:
        return collect_statistics(model, calibration, layers, loss_fn=loss_fn)
    except (RuntimeError, TypeError, IndexError, ValueError, AttributeError) as error:
        raise ValueError(f"calibration data do not fit the model: {error}") from error


def compress(model, ratio, method="whiten", *, calibration=None, allocation="uniform",
             layers=None, loss_fn=None, fisher_axis="out", eora=False, eora_rank=EORA_RANK,
             inplace=False, progress=None):
    """Replace a model's linear layers by low-rank factors.

    Parameters
    ----------
    model : torch.nn.Module
    ratio : float in (0, 1)
        Fraction of the targeted layers' parameters to remove.
    method : {"svd", "fwsvd", "asvd", "whiten"}
        See :mod:`lrkit.nn.factorize` (plain, Fisher-weighted, activation-scaled, whitened).
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
    progress : callable(str), optional
        Called with each layer's name as it is compressed.

    Returns
    -------
    (torch.nn.Module, CompressionReport)
    """
    if not 0.0 < float(ratio) < 1.0:
        raise ValueError(f"ratio must be in (0, 1) (fraction of parameters removed); got {ratio}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}; got {allocation!r}")
    if method == "fwsvd" and loss_fn is None:
        raise ValueError("method='fwsvd' needs loss_fn (its Fisher weights come from gradients)")
    needs_data = method != "svd" or eora
    if needs_data and calibration is None:
        raise ValueError(f"method={method!r}{' with eora' if eora else ''} needs calibration data")
    start = time.perf_counter()
    target = model if inplace else copy.deepcopy(model)
    layers = check_model_and_layers(target, layers)
    stats = {} if calibration is None else calibrate(
        target, layers, calibration, loss_fn if method == "fwsvd" else None)
    decompositions = {name: Decomposition(module.weight, method, stats.get(name), fisher_axis)
                      for name, module in layers.items()}
    shapes = {name: tuple(module.weight.shape) for name, module in layers.items()}
    ranks = allocate({n: d.s.cpu().numpy() for n, d in decompositions.items()}, shapes, ratio,
                     allocation)
    report = CompressionReport(method, float(ratio), allocation, 0.0)
    for name, module in layers.items():
        if progress is not None:
            progress(name)
        report.layers.append(_compress_layer(target, name, module, decompositions[name],
                                             ranks[name], stats.get(name), eora, eora_rank))
    report.seconds = time.perf_counter() - start
    return target, report


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
    _replace(model, name, new)
    approx = new.weight.detach()
    weight_error = float(torch.linalg.norm(W - approx) / torch.linalg.norm(W))
    out_error = float("nan") if statistics is None else output_error(W, approx, statistics)
    return LayerReport(name, shape, rank, W.numel(), params, weight_error, out_error)
