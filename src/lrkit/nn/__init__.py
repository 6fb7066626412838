"""Low-rank compression, adaptation and training of PyTorch networks (needs ``lrkit[nn]``).

::

    import lrkit.nn as lnn
    small, report = lnn.compress(model, ratio=0.3, method="whiten", calibration=batches)
    tuned = lnn.adapt(model, method="svfit", rank=8)

The top level holds the verbs; the rest lives in one subpackage per job:

- :mod:`lrkit.nn.compression`: whole-model compression (statistics, factorisations,
  allocations, refits, MoDeGPT, EoRA, distillation, reports);
- :mod:`lrkit.nn.adapters`: adapter layers, ``adapt`` / ``merge``, fine-tuning, adapter
  files, federated LoRA;
- :mod:`lrkit.nn.training`: training in low-rank form (layers, projected optimizers, the
  methods ``train-lm`` compares);
- :mod:`lrkit.nn.workloads`: the demo models and data (TinyGPT, the sentence classifier,
  packaged models and corpora);

over the shared :mod:`lrkit.nn.layers`, :mod:`lrkit.nn.surgery`,
:mod:`lrkit.nn.statistics`, :mod:`lrkit.nn.io` and :mod:`lrkit.nn.loop` (the one training
loop that fine-tuning, pre-training, distillation, federated clients, RPCANet and DPS share).

Every name loads on first use, so ``import lrkit.nn`` and the method declarations
(:mod:`lrkit.nn.compression.methods`, :mod:`lrkit.nn.compression.allocation`) need no
PyTorch; the first name that does raises a one-line
:class:`~lrkit.exceptions.MissingExtraError` when PyTorch is missing. The names of 0.1
(``lrkit.nn.LoRALinear``, ``lrkit.nn.TinyGPT``, …) still load from here.
"""

from __future__ import annotations

from lrkit._extras import require
from lrkit._lazy import lazy_names

_NN = "lrkit.nn"
_COMPRESSION, _ADAPTERS, _TRAINING, _WORKLOADS = (f"{_NN}.{package}" for package in (
    "compression", "adapters", "training", "workloads"))

#: The verbs: public name -> module that defines it.
VERBS = {
    "compress": f"{_COMPRESSION}.pipeline",
    "factorize": f"{_COMPRESSION}.factorization",
    "allocate": f"{_COMPRESSION}.allocation",
    "distill": f"{_COMPRESSION}.distillation",
    "quality_sweep": f"{_COMPRESSION}.evaluate",
    "adapt": f"{_ADAPTERS}.adaptation",
    "merge": f"{_ADAPTERS}.adaptation",
    "finetune": f"{_ADAPTERS}.finetune",
    "save_adapter": f"{_ADAPTERS}.adapter_io",
    "load_adapter": f"{_ADAPTERS}.adapter_io",
    "lowrank_model": _TRAINING,
    "pretrain": f"{_WORKLOADS}.language_model",
    "collect_statistics": f"{_NN}.statistics",
    "save": f"{_NN}.io",
    "load": f"{_NN}.io",
}


def _names(module, *names):
    return dict.fromkeys(names, module)


#: Names of 0.1 handed on from here (each also lives in its subpackage).
_MORE = {
    **_names(f"{_COMPRESSION}.allocation", "ALLOCATIONS", "break_even_rank"),
    **_names(f"{_NN}.statistics", "LayerStatistics", "calibrate"),
    **_names(f"{_COMPRESSION}.report", "CompressionReport", "LayerReport"),
    **_names(f"{_COMPRESSION}.eora", "compensate", "prune"),
    **_names(f"{_COMPRESSION}.evaluate", "SweepPoint", "embed", "embedding_similarity",
             "contrastive_loss", "next_token_loss", "causal_perplexity"),
    **_names(f"{_COMPRESSION}.factorization", "Decomposition", "eora_factors", "factorize_linear",
             "output_error"),
    **_names(f"{_COMPRESSION}.methods", "METHODS", "FACTORIZATIONS", "Factorization"),
    **_names(f"{_COMPRESSION}.distillation", "DistillHistory"),
    **_names(f"{_COMPRESSION}.sensitivity", "layer_sensitivities"),
    **_names(f"{_COMPRESSION}.refit", "RefitProblem"),
    **_names(f"{_NN}.layers", "CompensatedLinear", "ResizedLinear", "LowRankLinear",
             "IndexedLinear", "LowRankEmbedding", "SparseLowRankLinear"),
    **_names(f"{_ADAPTERS}.adaptation", "trainable_parameters", "adapter_layers",
             "target_layers", "ParameterCount"),
    **_names(_ADAPTERS, "ADAPTERS", "AdapterLinear", "LoRALinear", "PiSSALinear",
             "SVFitLinear", "SALTLinear", "BlockLoRALinear", "SNELLLinear"),
    **_names(f"{_ADAPTERS}.finetune", "FinetuneHistory"),
    **_names(f"{_ADAPTERS}.welore", "welore_coft", "low_rank_components"),
    **_names(f"{_ADAPTERS}.snella", "SparsityAllocator"),
    **_names(f"{_WORKLOADS}.classifier", "SentenceClassifier", "labelled_batches",
             "classification_loss", "accuracy"),
    **_names(f"{_TRAINING}.gradient_projection", "ProjectedAdamW", "optimizer_state_bytes",
             "dct_matrix"),
    **_names(_TRAINING, "reorthogonalize", "resample", "merge_and_restart", "ReLoRALinear",
             "truncate", "welore_ranks", "NuclearRegularizer", "TRAINING_LAYERS",
             "SLTrainLinear", "LOSTLinear", "SSTLinear", "MaestroLinear", "FactoredLinear",
             "group_lasso", "shrink"),
    **_names(f"{_WORKLOADS}.language_model", "TinyGPT", "CharCorpus", "PretrainHistory",
             "perplexity", "lm_loss"),
    **_names("lrkit.imaging.learned_sampling", "LearnedSampling"),
    **_names("lrkit.imaging.unrolled_rpca", "RPCANet", "soft_iou_loss"),
    **_names(f"{_NN}.attention", "biased_attention", "bias_factors", "distance_bias_factors"),
    **_names(f"{_NN}.surgery", "linear_layers", "replace_module", "select_layers",
             "linearize"),
    **_names(f"{_NN}.structure", "mlp_pairs", "repeated_blocks"),
    **_names(f"{_NN}.quantization", "quantize_int8"),
    **_names(f"{_NN}.loop", "TrainingHistory", "train_steps"),
}
_SUBMODULES = {
    "compression": _COMPRESSION, "adapters": _ADAPTERS, "training": _TRAINING,
    "workloads": _WORKLOADS, "datasets": f"{_WORKLOADS}.datasets",
    "models": f"{_WORKLOADS}.models", "federated": f"{_ADAPTERS}.federated",
}
#: Modules that need no PyTorch (method declarations and rank rules).
_TORCH_FREE = {_COMPRESSION, f"{_COMPRESSION}.allocation", f"{_COMPRESSION}.methods"}


def require_torch():
    """Raise :class:`~lrkit.exceptions.MissingExtraError` when PyTorch is not installed."""
    require("torch", "nn", "lrkit.nn")


def _check_extra(name):
    module = VERBS.get(name) or _MORE.get(name) or _SUBMODULES.get(name)
    if module not in _TORCH_FREE:
        require_torch()


__getattr__, __dir__ = lazy_names(__name__, {**VERBS, **_MORE}, _SUBMODULES,
                                  before=_check_extra)

__all__ = sorted(VERBS) + ["adapters", "compression", "training", "workloads"]
