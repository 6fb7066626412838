"""Tables of ``(row id, column id[, value])`` as users keep them: a header row, ids that are
names or codes rather than zero-based indices; and the files ``lrkit complete`` writes back
with the same ids."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrkit.io import atomic_write, check_output, load_index_table, parse_cell, save_arrays


@dataclass
class IdColumn:
    """One id column: ``index`` (zero-based positions in the model) and ``labels`` (the
    user's id of each position), or ``labels=None`` when the ids are the indices."""

    index: np.ndarray
    labels: np.ndarray | None = None

    def label(self, position):
        return str(position) if self.labels is None else str(self.labels[position])


@dataclass
class IdTable:
    """A table read by :func:`read_id_table`."""

    names: list | None
    rows: IdColumn
    cols: IdColumn
    values: list


def read_id_table(path, columns, header=None, like=None):
    """The ``columns`` columns of ``path``: two ids, then numbers.

    In a CSV, an id column holding any cell that is not a number (or whose column in
    ``like``, a table read before, held labels) is a column of labels: the model's
    positions follow the sorted labels, or ``like``'s, where a label ``like`` does not know
    gets a position past them, which the model answers with its baseline. Numeric ids are
    zero-based indices, as in every other format. ``header=None`` detects a header: a first
    row whose value cell is not a number, or, for pairs, whose cells are ``like``'s names.
    """
    if Path(path).suffix.lower() != ".csv":
        return _numeric(path, columns, header)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [[cell.strip() for cell in row] for row in csv.reader(handle)
                if any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"{path} holds no data")
    if header is None:
        header = _looks_like_header(rows, columns, like)
    names, rows = (rows[0], rows[1:]) if header else (None, rows)
    if not rows:
        raise ValueError(f"{path} holds a header and no data")
    for number, row in enumerate(rows, start=2 if header else 1):
        if len(row) != columns:
            what = "(row, col, value) triplets" if columns == 3 else "(row, col) pairs"
            raise ValueError(f"{path}, row {number}: {len(row)} cells; expected {columns}: "
                             f"{what}")
    cells = list(zip(*rows, strict=True))
    known = (None, None) if like is None else (like.rows, like.cols)
    labelled = [any(parse_cell(cell) is None for cell in column)
                or (before is not None and before.labels is not None)
                for column, before in zip(cells[:2], known, strict=True)]
    if not any(labelled):
        return _numeric(path, columns, header)
    values = [np.array([_value(path, cell, i, j, header) for i, cell in enumerate(column)])
              for j, column in enumerate(cells[2:], start=3)]
    ids = [_id_column(np.array(column), before) if text
           else IdColumn(_index_column(path, column, j, header))
           for j, (column, before, text) in enumerate(zip(cells[:2], known, labelled,
                                                           strict=True), start=1)]
    return IdTable(names, *ids, values)


def _index_column(path, column, j, header):
    """Zero-based indices of a numeric id column beside a labelled one."""
    values = np.array([_value(path, cell, i, j, header) for i, cell in enumerate(column)])
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values != np.round(values)))
    if bad.size:
        raise ValueError(f"{path}: row {bad[0] + (2 if header else 1)} has index "
                         f"{values[bad[0]]:g}; numeric ids are non-negative integers "
                         "(zero-based)")
    return values.astype(np.intp)


def _numeric(path, columns, header):
    rows, cols, *values = load_index_table(path, columns, None, header)
    return IdTable(None, IdColumn(rows), IdColumn(cols), values)


def _looks_like_header(rows, columns, like):
    first = rows[0]
    if columns > 2:
        return len(rows) > 1 and parse_cell(first[-1]) is None
    names = None if like is None else like.names
    return names is not None and [c.lower() for c in first[:2]] == [n.lower() for n in names[:2]]


def _value(path, cell, i, j, header):
    value = parse_cell(cell)
    if value is None:
        raise ValueError(f"{path}, row {i + (2 if header else 1)}, column {j}: {cell!r} is not "
                         "a number (missing values are empty or NA/NaN)")
    return value


def _id_column(cells, known=None):
    """An :class:`IdColumn` of text ids: positions in sorted order, or ``known``'s, with
    the ids it does not know after them (the model answers those with its baseline)."""
    if known is None or known.labels is None:
        labels, index = np.unique(cells, return_inverse=True)
        return IdColumn(index.astype(np.intp), labels)
    position = {label: i for i, label in enumerate(known.labels.tolist())}
    new = [cell for cell in dict.fromkeys(cells.tolist()) if cell not in position]
    position.update({cell: len(position) + i for i, cell in enumerate(new)})
    return IdColumn(np.array([position[c] for c in cells.tolist()], dtype=np.intp),
                    np.concatenate([known.labels, np.array(new, dtype=str)]))


def number_text(value):
    """The shortest text that reads back as ``value`` (``3`` rather than ``3.0``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def write_predictions(path, table, rows, cols, predicted, names=None):
    """``(row id, column id, prediction)`` lines: CSV with the user's ids (a header when the
    input had one; predictions to 6 significant digits), or numeric columns in .npz / .npy
    when the ids are indices. ``table``: the pairs; ``names``: the column names to write
    when the pairs had no header."""
    path = Path(path)
    check_output(path, several=False)
    labelled = table.rows.labels is not None or table.cols.labels is not None
    if path.suffix.lower() != ".csv":
        if labelled:
            raise ValueError(f"{path}: predictions keyed by text ids are written to a .csv "
                             "file; name the output *.csv")
        save_arrays(path, predictions=np.column_stack([rows, cols, predicted]))
        return
    names = table.names or names or []
    lines = [",".join([*names[:2], "prediction"])] if names else []
    lines += [f"{_csv(table.rows.label(r))},{_csv(table.cols.label(c))},{v:.6g}"
              for r, c, v in zip(rows, cols, predicted, strict=True)]
    _write_text(path, lines)


def write_completed(path, table, completed):
    """The completed matrix: a CSV with the column ids in its first row and the row ids in
    its first column when the ids are labels, otherwise the plain matrix, each value the
    shortest text that reads back as it (observed values unchanged)."""
    if Path(path).suffix.lower() != ".csv":
        save_arrays(path, completed=completed)
    else:
        check_output(path, several=False)
        labelled = table.rows.labels is not None or table.cols.labels is not None
        corner = _csv(table.names[0]) if table.names else ""
        lines = ([",".join([corner, *(_csv(table.cols.label(c))
                                  for c in range(completed.shape[1]))])] if labelled else [])
        lines += [",".join(([_csv(table.rows.label(i))] if labelled else [])
                           + [number_text(v) for v in row])
                  for i, row in enumerate(completed)]
        _write_text(path, lines)


def _csv(text):
    """A CSV cell: quoted (quotes doubled) when it holds a comma, a quote or a newline."""
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _write_text(path, lines):
    def write(tmp):
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    atomic_write(path, write)
