"""``lrkit complete`` on a user's own ratings file: a header row and text ids in, the same
ids out (issue 42)."""

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrkit.cli import main
from lrkit.cli.id_tables import number_text, read_id_table

RATINGS = """user,item,rating
alice,matrix,5
alice,alien,3
bob,matrix,4
bob,heat,2
carol,alien,4
carol,heat,5
"dave, jr.",matrix,1
"dave, jr.",alien,2
"dave, jr.",heat,3
"""


@pytest.fixture
def ratings(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(RATINGS)
    return path


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_predictions_come_back_keyed_by_the_user_s_ids(ratings, tmp_path, capsys):
    pairs, out = tmp_path / "pairs.csv", tmp_path / "predicted.csv"
    pairs.write_text("user,item\nalice,heat\nbob,alien\nerin,heat\n")
    assert main(["complete", str(ratings), "--triplets", "--pairs", str(pairs),
                 "-o", str(out), "--seed", "0"]) == 0
    table = _rows(out)
    assert table[0] == ["user", "item", "prediction"]
    assert [row[:2] for row in table[1:]] == [["alice", "heat"], ["bob", "alien"],
                                              ["erin", "heat"]]
    predictions = [float(row[2]) for row in table[1:]]
    assert all(1 <= p <= 5 for p in predictions)
    assert all(len(row[2].replace(".", "").lstrip("0")) <= 6 for row in table[1:])
    printed = capsys.readouterr()
    assert "mean of 5 fits" in printed.out
    assert printed.err.startswith("lrkit: warning: 1 of 3 pairs")  # erin: the baseline


def test_the_completed_matrix_carries_the_ids(ratings, tmp_path):
    out = tmp_path / "filled.csv"
    assert main(["complete", str(ratings), "--triplets", "-o", str(out), "--seed", "0"]) == 0
    table = _rows(out)
    assert table[0] == ["user", "alien", "heat", "matrix"]
    assert [row[0] for row in table[1:]] == ["alice", "bob", "carol", "dave, jr."]
    assert table[1][3] == "5" and table[4][1] == "2"  # observed values as given
    assert "e+00" not in out.read_text()


def test_text_ids_cannot_go_to_an_array_file(ratings, tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("alice,heat\n")
    assert main(["complete", str(ratings), "--triplets", "--pairs", str(pairs),
                 "-o", str(tmp_path / "out.npy")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "name the output *.csv" in err[0]


def test_numeric_ids_stay_zero_based_indices(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("0,0,1\n0,1,2\n1,0,3\n1,1,4\n2,1,5\n")
    table = read_id_table(path, 3)
    assert table.rows.labels is None and table.rows.index.tolist() == [0, 0, 1, 1, 2]
    mixed = tmp_path / "m.csv"
    mixed.write_text("alice,0,1\nbob,1,2\n")
    table = read_id_table(mixed, 3)
    assert table.rows.labels.tolist() == ["alice", "bob"] and table.cols.labels is None
    for index in ("-1", "INFINITY", "nan", "2.5"):
        mixed.write_text(f"alice,{index},1\n")
        with pytest.raises(ValueError, match="non-negative integers|not a number"):
            read_id_table(mixed, 3)


def test_shortest_number_text_reads_back():
    for value in (3.0, 0.1, 1 / 3, 1e-300, -2.5e17):
        assert float(number_text(value)) == value
    assert number_text(3.0) == "3"


ID = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
             max_size=8).filter(lambda s: s.strip() == s and s.strip())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ID, ID, st.floats(-1e6, 1e6, allow_nan=False)), min_size=1,
                max_size=12))
def test_reading_any_written_id_table_gives_back_its_ids(tmp_path_factory, entries):
    path = tmp_path_factory.mktemp("ids") / "t.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("row", "col", "value"), *entries])
    try:
        table = read_id_table(path, 3, header=True)
    except ValueError as error:  # the only failure allowed: a one-line message
        assert "\n" not in str(error)
        return
    rows = [table.rows.label(i) for i in table.rows.index]
    cols = [table.cols.label(i) for i in table.cols.index]
    assert rows == [r if table.rows.labels is not None else str(int(float(r)))
                    for r, _, _ in entries]
    assert len(cols) == len(entries)
    np.testing.assert_allclose(table.values[0], [v for _, _, v in entries])
