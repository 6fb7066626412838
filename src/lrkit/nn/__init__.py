"""Low-rank compression and adaptation of PyTorch networks (needs ``lrkit[nn]``).

>>> import lrkit.nn as lnn                                               # doctest: +SKIP
>>> small, report = lnn.compress(model, ratio=0.3, method="whiten", calibration=batches)
>>> tuned = lnn.adapt(model, method="svfit", rank=8)       # adapters: lrkit.nn.adapters

The names below load on first use, so ``import lrkit.nn`` and the method declarations in
:mod:`lrkit.nn.methods` need no PyTorch; the first name that does raises a one-line
:class:`~lrkit.exceptions.MissingExtraError` when PyTorch is missing.
"""

from __future__ import annotations

import importlib

from lrkit._extras import require

#: Public name -> submodule that defines it.
_EXPORTS = {
    "ALLOCATIONS": "allocation", "allocate": "allocation", "break_even_rank": "allocation",
    "LayerStatistics": "calibration", "collect_statistics": "calibration",
    "CompressionReport": "report", "LayerReport": "report", "compress": "compression",
    "compensate": "eora", "prune": "eora",
    "SweepPoint": "evaluate", "quality_sweep": "evaluate", "embed": "evaluate",
    "embedding_similarity": "evaluate", "contrastive_loss": "evaluate",
    "Decomposition": "factorization", "eora_factors": "factorization", "factorize": "factorization",
    "output_error": "factorization",
    "load": "io", "save": "io",
    "CompensatedLinear": "layers", "ResizedLinear": "layers", "LowRankLinear": "layers",
    "IndexedLinear": "layers", "LowRankEmbedding": "layers",
    "SparseLowRankLinear": "layers",
    "METHODS": "methods", "FACTORIZATIONS": "methods", "Factorization": "methods",
    "adapt": "adaptation", "merge": "adaptation", "trainable_parameters": "adaptation",
    "adapter_layers": "adaptation", "target_layers": "adaptation",
    "ParameterCount": "adaptation",
    "save_adapter": "adapter_io", "load_adapter": "adapter_io",
    "ADAPTERS": "adapters", "AdapterLinear": "adapters", "LoRALinear": "adapters",
    "PiSSALinear": "adapters", "SVFitLinear": "adapters", "SALTLinear": "adapters",
    "BlockLoRALinear": "adapters", "SNELLLinear": "adapters",
    "SentenceClassifier": "classifier", "labelled_batches": "classifier",
    "classification_loss": "classifier", "accuracy": "classifier",
    "finetune": "finetune", "FinetuneHistory": "finetune",
    "ProjectedAdamW": "gradient_projection", "optimizer_state_bytes": "gradient_projection",
    "dct_matrix": "gradient_projection",
    "lowrank_model": "training", "reorthogonalize": "training", "resample": "training",
    "merge_and_restart": "training", "ReLoRALinear": "training",
    "truncate": "training", "welore_ranks": "training",
    "NuclearRegularizer": "training", "TRAINING_LAYERS": "training",
    "SLTrainLinear": "training", "LOSTLinear": "training", "SSTLinear": "training",
    "MaestroLinear": "training", "FactoredLinear": "training",
    "TinyGPT": "language_model", "CharCorpus": "language_model", "pretrain": "language_model",
    "PretrainHistory": "language_model", "perplexity": "language_model",
    "lm_loss": "language_model",
    "LearnedSampling": "learned_sampling",
    "RPCANet": "unrolled_rpca", "soft_iou_loss": "unrolled_rpca",
    "biased_attention": "flashbias", "bias_factors": "flashbias",
    "distance_bias_factors": "flashbias",
    "distill": "distillation", "DistillHistory": "distillation",
    "layer_sensitivities": "sensitivity", "RefitProblem": "refit",
    "calibrate": "surgery", "linear_layers": "surgery", "replace_module": "surgery",
    "select_layers": "surgery",
}
_SUBMODULES = ("datasets", "federated", "models")
_TORCH_FREE = ("allocation", "methods")

__all__ = sorted(_EXPORTS) + list(_SUBMODULES)


def require_torch():
    """Raise :class:`~lrkit.exceptions.MissingExtraError` when PyTorch is not installed."""
    require("torch", "nn", "lrkit.nn")


def __getattr__(name):
    if name in _SUBMODULES:
        require_torch()
        return importlib.import_module(f"lrkit.nn.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lrkit.nn' has no attribute {name!r}")
    if _EXPORTS[name] not in _TORCH_FREE:
        require_torch()
    value = getattr(importlib.import_module(f"lrkit.nn.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
