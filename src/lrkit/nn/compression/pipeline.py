"""Whole-model compression: calibrate, allocate ranks, factorise, replace layers, report."""

from __future__ import annotations

import copy
import time

import torch

from lrkit._progress import stage_bars
from lrkit._validation import check_int, check_real
from lrkit.nn.compression.allocation import ALLOCATIONS, allocate, layer_cost, rmt_ranks
from lrkit.nn.compression.embedding_features import (
    compress_embeddings,
    embedding_names,
    token_counts,
)
from lrkit.nn.compression.eora import add_eora, check_eora_budget
from lrkit.nn.compression.factorization import Decomposition, output_error
from lrkit.nn.compression.methods import get_factorization
from lrkit.nn.compression.modegpt import compress_mlps
from lrkit.nn.compression.modegpt_attention import ATTENTION_PATTERNS, compress_attentions
from lrkit.nn.compression.refit import RefitProblem, layer_stages, paired_statistics
from lrkit.nn.compression.report import CompressionReport, LayerReport
from lrkit.nn.compression.sensitivity import layer_sensitivities
from lrkit.nn.layers import LowRankLinear
from lrkit.nn.statistics import collect_statistics
from lrkit.nn.surgery import check_model, linearize, replace_module, select_layers

#: Rank of the EoRA compensation added by ``compress(..., eora=True)`` unless given.
EORA_RANK = 16


#: ``method="auto"``: the best combination measured on MiniLM (docs/benchmarks.md,
#: "Network compression"): MLPs (found by :func:`lrkit.nn.structure.mlp_pairs`)
#: shrink by MoDeGPT's Nyström selection, the other layers are whitened with ranks
#: allocated by measured sensitivity. The sequential refit is left out: on held-out
#: sentences, fully sequential (REFIT_STAGES = 1) it helped uniform ranks (0.871 -> 0.887
#: at 30 %), grouped by 4 it did not (0.854), and it hurt sensitivity-allocated ranks
#: (0.915 -> 0.887), at two calibration passes per stage group. MoDeGPT's attention
#: types II/III are left out too: with them (``method="modegpt"``) the cosine is 0.950 /
#: 0.902 / 0.796 at 20 / 30 / 50 %, against 0.972 / 0.950 / 0.890 with whitened attention.
AUTO = ("whiten", "sensitivity", False)
#: MoDeGPT's module parts each method applies before factorising the remaining layers:
#: ``"mlp"`` (type I, :mod:`.modegpt`), ``"attention"`` (types II and III,
#: :mod:`.modegpt_attention`).
MODULE_PARTS = {"modegpt": ("mlp", "attention"), "auto": ("mlp",)}
#: Stages (groups of layers reading one input) refitted per pair of calibration passes:
#: 1 is exactly sequential; more stages share the passes, so a stage does not see the
#: drift of the others in its group, at a fraction of the time.
REFIT_STAGES = 4
#: Calibration batches used to measure layer sensitivities (the first ones).
SENSITIVITY_BATCHES = 4


def compress(model, ratio, method="auto", *, calibration=None, allocation=None, refit=None,
             layers=None, loss_fn=None, fisher_axis="out", eora=False, eora_rank=EORA_RANK,
             inplace=False, progress=True, statistics=None, sensitivities=None):
    """Replace a model's linear layers by low-rank factors.

    Parameters
    ----------
    model : torch.nn.Module
    ratio : float in (0, 1), or None with ``allocation="rmt"``
        Fraction of the targeted layers' parameters to remove.
    method : {"auto", "svd", "fwsvd", "asvd", "whiten", "features", "modegpt"}
        See :mod:`.methods` (plain, Fisher-weighted, activation-scaled, whitened,
        principal output features). ``"modegpt"`` shrinks every MLP's intermediate width by
        Nyström neuron selection (:mod:`.modegpt`) and every attention head's
        query–key and value width by CR and SVD (:mod:`.modegpt_attention`), each
        by ``ratio``; layers in neither (unrecognised names) are whitened.
        ``"auto"`` (default) is the best combination measured (:data:`AUTO`): MLPs as in
        ``"modegpt"`` (when their layer names are recognised), the other layers
        ``"whiten"`` with ``allocation="sensitivity"``.
    calibration : iterable of model inputs
        Needed by every method but ``"svd"`` (and for the report's output errors). Each
        item is ``model(**batch)`` (a dict, e.g. tokenizer output) or ``model(batch)``.
    allocation : {"uniform", "energy", "welore", "sensitivity", "rmt"}, optional
        Rank allocation rule (:func:`lrkit.nn.compression.allocation.allocate`). ``"sensitivity"``
        measures each layer's effect on the model output on the first
        :data:`SENSITIVITY_BATCHES` calibration batches (:mod:`.sensitivity`).
        ``"rmt"`` needs ``ratio=None``: each layer keeps as many directions as its input
        covariance has eigenvalues above the Marchenko–Pastur bulk (RMT-KD;
        :func:`lrkit.nn.compression.allocation.rmt_ranks`), so the ratio is an outcome.
        Default: ``"sensitivity"`` for ``"auto"``, ``"uniform"`` otherwise.
    refit : bool, optional
        Refit each layer's factors (and bias) in closed form against the original layer's
        outputs, layer after layer on the inputs the compressed layers before it produce
        (:mod:`.refit`; SVD-LLM's update). Needs ``calibration``; the ranks still
        come from ``method`` and ``allocation``. Default: False.
    layers : list of names or dict of name -> nn.Linear, optional
        Default: the attention and MLP linear layers (:func:`linear_layers`). With
        ``method="features"`` the names may include ``nn.Embedding`` tables: each is
        replaced by a :class:`~lrkit.nn.compression.embedding_features.LowRankEmbedding` keeping the
        principal directions of the rows the calibration text reads, weighted by token
        frequency (:mod:`.embedding_features`), at the rank that removes ``ratio``
        of its weights.
    loss_fn : callable(model, batch) -> scalar, optional
        Loss whose squared gradients give the Fisher weights of ``"fwsvd"``.
    fisher_axis : {"out", "in"}
    eora : bool
        Add an EoRA compensation of rank ``eora_rank`` to every factorised layer.
    inplace : bool
        Modify ``model`` instead of a deep copy.
    progress : bool or callable(stage, done, total)
        ``True`` (default): a bar per stage on a terminal (stderr), nothing elsewhere;
        ``False``: nothing. A callable is called as work advances: ``("calibration",
        batches done, batches or None)`` while calibrating, then ``("decompositions", done,
        layers)`` while each layer's SVD is computed, ``("sensitivity", done, layers)``
        while sensitivities are measured, then ``("layers", done, layers)`` as they are
        replaced.
    statistics : dict of name -> LayerStatistics, optional
        Statistics from an earlier :func:`lrkit.nn.collect_statistics` of the same model and
        layers: reused instead of calibrating again (a sweep over ratios or methods
        calibrates once).
    sensitivities : dict of name -> float, optional
        Gains from an earlier ``allocation="sensitivity"`` run of the same model
        (``report.sensitivities``), reused instead of measured again (they were measured at
        that run's ranks, which is close enough across nearby ratios).

    Returns
    -------
    (torch.nn.Module, CompressionReport)
    """
    with stage_bars(progress, "compressing") as report:
        return _compress(model, ratio, method, calibration=calibration, allocation=allocation,
                         refit=refit, layers=layers, loss_fn=loss_fn, fisher_axis=fisher_axis,
                         eora=eora, eora_rank=eora_rank, inplace=inplace, progress=report,
                         statistics=statistics, sensitivities=sensitivities)


def _compress(model, ratio, method, *, calibration, allocation, refit, layers, loss_fn,
              fisher_axis, eora, eora_rank, inplace, progress, statistics, sensitivities):
    if allocation == "rmt":
        if ratio is not None:
            raise ValueError("allocation='rmt' chooses every rank from the Marchenko–Pastur "
                             "edge of the layer's inputs; pass ratio=None")
        if calibration is None and statistics is None:
            raise ValueError("allocation='rmt' needs calibration data")
    else:
        ratio = check_real("ratio", ratio, 0.0, 1.0, low_open=True, high_open=True)
    label = method
    if method == "auto":
        method, default_allocation, default_refit = AUTO
    elif method == "modegpt":  # MLPs and attention by MoDeGPT; any other layer whitened
        method, default_allocation, default_refit = "whiten", "uniform", False
    else:
        default_allocation, default_refit = "uniform", False
    allocation = default_allocation if allocation is None else allocation
    refit = default_refit if refit is None else bool(refit)
    factorization = get_factorization(method)
    if eora:
        eora_rank = check_int("eora_rank", eora_rank, 1)
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}; got {allocation!r}")
    needs_batches = refit or (allocation == "sensitivity" and sensitivities is None)
    if needs_batches and calibration is None:
        raise ValueError(f"method={label!r} with allocation={allocation!r} and refit={refit} "
                         "needs calibration batches (pass calibration=...)")
    if statistics is None:
        if factorization.needs_loss and loss_fn is None:
            raise ValueError(f"method={method!r} needs loss_fn (its weights come from gradients)")
        if (factorization.needs_data or eora) and calibration is None:
            raise ValueError(f"method={label!r}{' with eora' if eora else ''} needs "
                             "calibration data")
    embeddings = embedding_names(model, layers)
    if embeddings:
        _check_embeddings(embeddings, label, ratio, calibration)
        layers = [name for name in layers if name not in embeddings]
        calibration = list(calibration)
    start = time.perf_counter()
    check_model(model)
    original = model
    target = model if inplace else copy.deepcopy(model)
    converted = linearize(target)  # GPT-2's Conv1D layers become the equal nn.Linear
    if refit and (inplace or converted):
        original = copy.deepcopy(target)
    counts = {name: token_counts(target, target.get_submodule(name), calibration)
              for name in embeddings}
    layers = select_layers(target, layers) if layers or layers is None else {}
    if needs_batches:
        calibration = list(calibration)
    if statistics is not None or not layers:
        stats = statistics or {}
    elif calibration is not None:
        total = len(calibration) if hasattr(calibration, "__len__") else None
        stats = collect_statistics(target, calibration, layers,
                                   loss_fn if factorization.needs_loss else None,
                                   progress=progress and (
                                       lambda done: progress("calibration", done, total)))
    else:
        stats = {}
    module_reports, order = {}, list(layers)
    if label in MODULE_PARTS and allocation != "rmt":
        module_reports = _compress_modules(target, layers, stats, ratio, MODULE_PARTS[label])
        if label == "modegpt" and not module_reports:
            raise ValueError("method='modegpt' found no MLP (a map to a wider space and one "
                             "back) or attention block (known patterns: "
                             f"{[p[0] for p in ATTENTION_PATTERNS]}) among the layers")
        layers = {n: m for n, m in layers.items() if n not in module_reports}
    name_label = label if label == method else f"{label} ({method}, {allocation}" + (
        ", refit)" if refit else ")")
    report = CompressionReport(name_label, ratio, allocation, 0.0)
    if layers:
        decompositions = {}
        for done, (name, module) in enumerate(layers.items(), start=1):
            decompositions[name] = Decomposition(module.weight, method, stats.get(name),
                                                 fisher_axis)
            if progress is not None:
                progress("decompositions", done, len(layers))
        ranks, report.sensitivities = _ranks(target, layers, decompositions, stats, ratio,
                                             allocation, calibration, progress, sensitivities)
        if eora:
            check_eora_budget(ranks, {n: tuple(m.weight.shape) for n, m in layers.items()},
                               eora_rank)
        if refit:
            report.layers = _refit_layers(original, target, layers, ranks, calibration,
                                          progress)
        else:
            report.layers = _factor_layers(target, layers, decompositions, ranks, stats,
                                           progress)
        if eora:
            for index, (name, module) in enumerate(layers.items()):
                report.layers[index] = add_eora(target, name, module.weight,
                                                 report.layers[index], stats[name], eora_rank)
    module_reports.update(compress_embeddings(target, counts, ratio))
    order = embeddings + order
    report.layers = sorted([*report.layers, *module_reports.values()],
                           key=lambda layer: order.index(layer.name))
    report.seconds = time.perf_counter() - start
    return target, report


def _ranks(model, layers, decompositions, stats, ratio, allocation, calibration, progress,
           weights=None):
    """``(rank per layer (None: stays dense), sensitivities or None)``."""
    shapes = {name: tuple(module.weight.shape) for name, module in layers.items()}
    if allocation == "rmt":
        return rmt_ranks({n: torch.linalg.eigvalsh(stats[n].covariance).cpu().numpy()
                          for n in layers}, {n: stats[n].tokens for n in layers}, shapes), None
    spectra = {n: d.s.cpu().numpy() for n, d in decompositions.items()}
    if allocation != "sensitivity":
        weights = None
    elif weights is None:
        probe = allocate(spectra, shapes, ratio, "uniform")
        weights = layer_sensitivities(model, layers, decompositions, probe,
                                      calibration[:SENSITIVITY_BATCHES],
                                      progress=progress and (lambda done: progress(
                                          "sensitivity", done, len(layers))))
    return allocate(spectra, shapes, ratio, allocation, weights), weights


def _factor_layers(model, layers, decompositions, ranks, stats, progress):
    """Replace every layer by its factors at its rank (one-shot, no refit)."""
    reports = []
    for done, (name, module) in enumerate(layers.items(), start=1):
        B = A = None
        bias = module.bias
        if ranks[name] is not None:
            B, A = decompositions[name].factors(ranks[name])
            shift = decompositions[name].bias_shift(ranks[name])
            if shift is not None:
                bias = shift.to(module.weight.dtype) + (0 if bias is None else bias.detach())
        reports.append(_replace_layer(model, name, module, B, A, bias, stats.get(name)))
        if progress is not None:
            progress("layers", done, len(layers))
    return reports


def _check_embeddings(names, label, ratio, calibration):
    """Refuse an embedding table in ``layers`` that ``compress`` cannot serve."""
    if label != "features":
        raise ValueError(f"embedding tables ({names[0]}) are compressed by their output "
                         "features: pass method='features', or leave them out of layers")
    if ratio is None:
        raise ValueError("an embedding table needs a ratio (allocation='rmt' is for linear "
                         "layers)")
    if calibration is None:
        raise ValueError("method='features' on an embedding table needs calibration "
                         "batches (its token counts)")


def _compress_modules(model, layers, stats, ratio, parts):
    """MoDeGPT's module-level compression of the recognised MLPs (``"mlp"``) and
    attention blocks (``"attention"``) among ``layers``; reports by layer name."""
    reports = {}
    if "mlp" in parts:
        reports.update(compress_mlps(model, layers, stats, ratio))
    if "attention" in parts:
        rest = {n: m for n, m in layers.items() if n not in reports}
        reports.update(compress_attentions(model, rest, stats, ratio))
    return reports


def _refit_layers(original, target, layers, ranks, batches, progress):
    """Factorise with the closed-form refit (:mod:`.refit`), :data:`REFIT_STAGES`
    stages per pair of calibration passes."""
    originals = dict(original.named_modules())
    stages = layer_stages(target, layers, batches[0])
    reports, done = {}, 0
    for start in range(0, len(stages), REFIT_STAGES):
        group = stages[start:start + REFIT_STAGES]
        paired = paired_statistics(original, target, [originals[s[0]] for s in group],
                                   [layers[s[0]] for s in group], batches)
        for stage, statistics in zip(group, paired, strict=True):
            for name in stage:
                module = layers[name]
                B = A = bias = error = None
                if ranks[name] is not None:
                    problem = RefitProblem(module.weight, module.bias, statistics)
                    B, A, bias = problem.factors(ranks[name])
                    error = problem.error(ranks[name])
                reports[name] = _replace_layer(target, name, module, B, A, bias, None, error)
                done += 1
                if progress is not None:
                    progress("layers", done, len(layers))
    return [reports[name] for name in layers]


def _replace_layer(model, name, module, B, A, bias, statistics, out_error=None):
    """Put ``B A`` (with ``bias``) in place of ``module``; ``B = None`` keeps it dense."""
    W = module.weight.detach()
    shape = tuple(W.shape)
    if B is None:
        return LayerReport(name, shape, None, W.numel(), W.numel(), 0.0, 0.0)
    bias = None if bias is None else bias.detach()
    new = LowRankLinear.from_factors(B.to(W.dtype), A.to(W.dtype), bias)
    replace_module(model, name, new)
    approx = new.weight.detach()
    weight_error = float(torch.linalg.norm(W - approx) / torch.linalg.norm(W))
    if out_error is None:
        out_error = float("nan") if statistics is None else output_error(W, approx, statistics)
    return LayerReport(name, shape, A.shape[0], W.numel(), layer_cost(shape, A.shape[0]),
                       weight_error, out_error)
