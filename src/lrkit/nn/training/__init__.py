"""Networks trained in low-rank form: layers that replace ``nn.Linear`` for training
(SLTrain, LOST, Sparse Spectral Training, Maestro, and the baselines plain ``B A`` and
LoRA / ReLoRA* from scratch) and Trained Rank Pruning.

:func:`lowrank_model` swaps the targeted linear layers of a model for one of these layers,
initialised from their current weights (a freshly built model: training from scratch).
"""

from __future__ import annotations

import copy

import torch

from lrkit._random import as_generator
from lrkit._validation import check_int, check_real
from lrkit.nn.surgery import put_module
from lrkit.nn.training.base import TrainingLinear
from lrkit.nn.training.lost import LOSTLinear
from lrkit.nn.training.maestro import MaestroLinear, group_lasso, shrink
from lrkit.nn.training.plain import FactoredLinear
from lrkit.nn.training.rank_pruning import NuclearRegularizer, truncate, welore_ranks
from lrkit.nn.training.relora import ReLoRALinear
from lrkit.nn.training.sltrain import SLTrainLinear
from lrkit.nn.training.sst import SSTLinear
from lrkit.registry import Method, Registry

#: ``method=`` of :func:`lowrank_model` -> layer class.
TRAINING_LAYERS = Registry("lowrank_model", "layers that train nn.Linear in low-rank form")
for _layer in (FactoredLinear, SLTrainLinear, LOSTLinear, SSTLinear, MaestroLinear, ReLoRALinear):
    TRAINING_LAYERS.register(Method.of_class(_layer))


def lowrank_model(model, method="sltrain", rank=32, *, targets="all-linear", seed=None,
                  inplace=False, **options):
    """``model`` with its targeted ``nn.Linear`` layers trained in low-rank form.

    Parameters
    ----------
    model : nn.Module
    method : {"lowrank", "sltrain", "lost", "sst", "maestro", "relora"}
        ``"lowrank"``: plain ``B A`` (the baseline); ``"sltrain"``: ``B A + S`` on a fixed
        random support (option ``sparsity``, default 0.03); ``"lost"``: top-``r`` part plus
        the strongest residual input channels (``sparsity``, default 0.05); ``"sst"``:
        the full ``U diag(s) Vᵀ``, every singular value and ``rank`` sampled vector pairs
        trained (call :func:`resample` every iteration of ``T`` steps and
        :func:`reorthogonalize` instead after ``SSTLinear.iterations_per_round`` of them);
        ``"maestro"``: ordered dropout over rank-1 components; ``"relora"``: the starting
        weight frozen plus a trained ``B A`` (LoRA from scratch; ReLoRA* when
        :func:`merge_and_restart` is called every iteration of ``T`` steps).
    rank : int
        The rank of every layer (capped at ``min(in, out)`` of each).
    targets : "all-linear", list of names or callable
        As in :func:`lrkit.nn.adapt`.
    seed : int, optional
        Seeds random supports.
    inplace : bool
        Edit ``model`` instead of a copy.

    Returns
    -------
    nn.Module

    Examples
    --------
    >>> model = lowrank_model(model, method="sltrain", rank=32, sparsity=0.03)  # doctest: +SKIP
    """
    from lrkit.nn.adapters.adaptation import target_layers

    cls = TRAINING_LAYERS.get(method).target
    TRAINING_LAYERS.validate(method, options)
    rank = check_int("rank", rank, 1)
    if "sparsity" in options:
        check_real("sparsity", options["sparsity"], low=0.0, high=1.0, low_open=True)
    layers = target_layers(model, targets)
    result = model if inplace else copy.deepcopy(model)
    generator = _torch_generator(seed)
    for name, linear in layers.items():
        layer_rank = min(rank, linear.in_features, linear.out_features)
        source = result.get_submodule(name) if name else result
        result = put_module(result, name, cls.from_linear(source, layer_rank, generator,
                                                          **options))
    return result


def resample(model, optimizer=None, *, seed=None):
    """Draw new active singular-vector pairs in every SST layer of ``model``
    (:meth:`SSTLinear.resample`) and restart ``optimizer``'s state of their vectors (zeroed:
    moments and step count).

    Returns the number of SST layers."""
    generator = _torch_generator(seed)
    return _each(model, SSTLinear, optimizer, lambda layer: layer.resample(generator),
                 lambda layer: (layer.U, layer.V))


def reorthogonalize(model, optimizer=None, *, seed=None):
    """Re-SVD every SST layer of ``model`` and draw its active pairs anew
    (:meth:`SSTLinear.reorthogonalize`), and restart ``optimizer``'s state of its singular
    values and vectors (they change meaning).

    Returns the number of SST layers."""
    generator = _torch_generator(seed)
    return _each(model, SSTLinear, optimizer, lambda layer: layer.reorthogonalize(generator),
                 lambda layer: (layer.U, layer.V, layer.s))


def merge_and_restart(model, optimizer=None, *, seed=None):
    """ReLoRA*'s restart in every ReLoRA layer of ``model``: ``B A`` merged into the frozen
    weight, ``B = 0`` and ``A`` drawn anew (:meth:`ReLoRALinear.merge`), and ``optimizer``'s
    state of ``A`` and ``B`` restarted (zeroed: moments and step count).

    Returns the number of ReLoRA layers."""
    generator = _torch_generator(seed)
    return _each(model, ReLoRALinear, optimizer, lambda layer: layer.merge(generator),
                 lambda layer: (layer.A, layer.B))


def _torch_generator(seed):
    """A ``torch.Generator`` seeded from ``seed`` (an int, a NumPy generator or None)."""
    return torch.Generator().manual_seed(int(as_generator(seed).integers(2**62)))


def _each(model, kind, optimizer, action, changed):
    """``action`` on every layer of class ``kind`` in ``model``, then ``optimizer``'s state
    of its ``changed`` parameters restarted; the number of such layers."""
    count = 0
    for module in model.modules():
        if isinstance(module, kind):
            action(module)
            if optimizer is not None:
                for parameter in changed(module):
                    _restart(optimizer, parameter)
            count += 1
    return count


def _restart(optimizer, parameter):
    """Zero ``optimizer``'s state of ``parameter`` (moments and step count) in place: the
    next step starts afresh, and the memory stays held (as it is during training)."""
    for value in optimizer.state.get(parameter, {}).values():
        if torch.is_tensor(value):
            value.zero_()


def trainable_count(model):
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["FactoredLinear", "LOSTLinear", "MaestroLinear", "NuclearRegularizer",
           "ReLoRALinear", "SLTrainLinear", "SSTLinear", "TRAINING_LAYERS", "TrainingLinear",
           "group_lasso", "lowrank_model", "merge_and_restart", "reorthogonalize", "resample",
           "shrink", "trainable_count", "truncate", "welore_ranks"]
