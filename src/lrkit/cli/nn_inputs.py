"""Reading what the network verbs take: a pretrained model, sentences, labelled text."""

from __future__ import annotations

import csv
from pathlib import Path

#: ``--data`` value naming the bundled Rotten Tomatoes sentiment data.
ROTTEN_TOMATOES = "rotten-tomatoes"


def load_model(name):
    """``(model, tokenizer)`` of ``'minilm'`` (the packaged all-MiniLM-L6-v2) or a folder."""
    from lrkit.nn.workloads import models

    if name == "minilm":
        return models.load_minilm()
    if not Path(name).is_dir():
        raise ValueError(f"MODEL must be 'minilm' or a Hugging Face model folder; got {name!r}")
    return models.load_pretrained(name)


def read_sentences(path, count, split):
    """Sentences of a text file (one a line), or standard-library docstrings."""
    from lrkit.nn.workloads import datasets

    if path is None:
        return datasets.stdlib_sentences(count, split)
    if not Path(path).exists():
        raise ValueError(f"text file {path} does not exist")
    lines = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"text file {path} has no non-empty line")
    return lines[:count]


def read_labelled_text(path):
    """``(texts, labels, label names)`` of a CSV file with a header naming ``text`` and
    ``label`` columns; labels may be any strings (sorted into class indices)."""
    if not Path(path).is_file():
        raise ValueError(f"--data {path} is not a file (a CSV with text,label columns, or "
                         f"{ROTTEN_TOMATOES!r})")
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"--data {path} is not a readable UTF-8 CSV file: {error}") from None
    if not rows or not {"text", "label"} <= set(rows[0]):
        raise ValueError(f"--data {path} needs a header row with 'text' and 'label' columns")
    rows = [r for r in rows if (r["text"] or "").strip() and (r["label"] or "").strip()]
    names = sorted({r["label"].strip() for r in rows})
    if len(names) < 2:
        raise ValueError(f"--data {path} needs at least two distinct labels; found {names}")
    index = {name: i for i, name in enumerate(names)}
    return [r["text"].strip() for r in rows], [index[r["label"].strip()] for r in rows], names
