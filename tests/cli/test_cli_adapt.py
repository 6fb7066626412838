"""``lrkit adapt`` (issue 11): trains an adapter on labelled sentences, prints a results
table, writes the adapter and a plot, and refuses bad input in one line before any work."""

import pytest

from lrkit.cli import main

pytest.importorskip("torch")
pytest.importorskip("transformers")

SENTENCES = [("a wonderful, moving film", "good"), ("dull and far too long", "bad"),
             ("the best performance of the year", "good"), ("a tedious mess", "bad")] * 12


@pytest.fixture
def reviews(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\n" + "".join(f'"{t}",{y}\n' for t, y in SENTENCES))
    return path


def test_adapt_trains_writes_adapter_and_plot(tmp_path, reviews, capsys):
    from lrkit.nn.workloads import models

    if models.minilm_path() is None:
        pytest.skip("the packaged MiniLM model is not installed")
    import lrkit.nn as lnn

    out, plot = tmp_path / "svfit.safetensors", tmp_path / "curve.png"
    assert main(["adapt", "minilm", "--method", "svfit", "--rank", "4", "--data", str(reviews),
                 "--epochs", "2", "--lr", "1e-2", "--batch-size", "8", "--max-length", "16",
                 "-o", str(out), "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    values = {cells[0]: cells[1] for cells in (
        [c.strip() for c in line.strip().strip("│").split("│")] for line in text.splitlines()
        if line.count("│") == 3)}
    assert values["trainable parameters"].startswith(f"{4 * 36 + 384 * 2 + 2:,} ")
    loss = next(v for k, v in values.items() if k.startswith("training loss: first / last"))
    first, last = (float(v) for v in loss.split("/"))
    assert last < first  # the adapter learned
    accuracy = next(v for k, v in values.items() if k.startswith("held-out accuracy"))
    before, after = (float(v.strip(" %")) for v in accuracy.split("/"))
    assert after >= before
    assert plot.stat().st_size > 5_000
    encoder, _ = models.load_minilm()
    loaded = lnn.load_adapter(lnn.SentenceClassifier(encoder), out)
    assert loaded.lrkit_adapter_config["extra"]["labels"] == ["bad", "good"]
    assert lnn.trainable_parameters(loaded) == 4 * 36 + 384 * 2 + 2


@pytest.mark.parametrize("argv, message", [
    (["--data", "missing.csv"], "is not a file"),
    (["--data", "{reviews}", "-o", "{reviews}"], "must end in .safetensors"),
    (["--data", "{reviews}", "--plot", "{reviews}"], "--plot"),
    (["--data", "{header}"], "'text' and 'label'"),
])
def test_adapt_refuses_bad_input_in_one_line(tmp_path, reviews, capsys, argv, message):
    header = tmp_path / "header.csv"
    header.write_text("sentence,score\nfine,1\n")
    argv = [a.format(reviews=reviews, header=header) for a in argv]
    assert main(["adapt", "minilm", *argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_adapt_reads_json_lines(tmp_path):
    """``--data`` may be JSON Lines with ``text`` and ``label`` keys (labels any value)."""
    import json

    from lrkit.cli.nn_inputs import read_labelled_text

    path = tmp_path / "reviews.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": y == "good"}) + "\n"
                            for t, y in SENTENCES))
    texts, labels, names = read_labelled_text(path)
    assert names == ["False", "True"] and len(texts) == len(SENTENCES)
    assert [names[i] == "True" for i in labels] == [y == "good" for _, y in SENTENCES]
    path.write_text('{"text": "no label"}\n')
    with pytest.raises(ValueError, match="line 1: an object with 'text' and 'label' keys"):
        read_labelled_text(path)
