"""lrkit.nn (issue 5): layers, calibration, the four methods, allocation, EoRA, save/load.

The real all-MiniLM-L6-v2 model is used when its package is installed; otherwise a tiny
randomly initialised BERT.
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn import datasets, models  # noqa: E402


@pytest.fixture(scope="module")
def model_and_batches():
    if models.minilm_path() is not None:
        model, tokenizer = models.load_minilm()
        calibration = datasets.text_batches(tokenizer, datasets.stdlib_sentences(64))
        evaluation = datasets.text_batches(tokenizer, datasets.stdlib_sentences(64, "evaluation"))
    else:  # pragma: no cover - only without the model package
        model = models.tiny_bert()
        generator = torch.Generator().manual_seed(0)

        def batch():
            ids = torch.randint(5, 500, (8, 24), generator=generator)
            return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

        calibration, evaluation = [batch() for _ in range(8)], [batch() for _ in range(8)]
    return model, calibration, evaluation


def test_low_rank_linear_full_rank_reproduces_output():
    torch.manual_seed(0)
    linear = torch.nn.Linear(48, 32)
    x = torch.randn(10, 48)
    layer = lnn.LowRankLinear.from_linear(linear, rank=32)
    assert torch.allclose(layer(x), linear(x), atol=1e-5)
    assert layer.rank == 32 and sum(p.numel() for p in layer.parameters()) == 32 * 80 + 32


def test_sparse_low_rank_linear_adds_residual():
    torch.manual_seed(0)
    linear = torch.nn.Linear(40, 30)
    x = torch.randn(5, 40)
    plain = lnn.LowRankLinear.from_linear(linear, rank=5)
    split = lnn.SparseLowRankLinear.from_linear(linear, rank=5, density=0.1)
    assert torch.allclose(split(x), x @ split.weight.T + split.bias, atol=1e-5)
    err_plain = torch.linalg.norm(linear.weight - plain.weight)
    err_split = torch.linalg.norm(linear.weight - split.weight)
    assert err_split < 0.9 * err_plain


def test_whitened_truncation_error_equals_dropped_singular_values():
    """SVD-LLM's defining property: ||(W − BA) X||_F = sqrt(Σ_dropped σ_i²) on the
    calibration inputs X, where σ are the singular values of W S, S Sᵀ = X Xᵀ."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 48).double().requires_grad_(False)
    X = torch.randn(500, 64, dtype=torch.float64) @ torch.randn(64, 64, dtype=torch.float64)
    stats = lnn.collect_statistics(linear, [X[:250], X[250:]], {"": linear})[""]
    decomposition = lnn.Decomposition(linear.weight, "whiten", stats)
    for rank in (4, 16, 40):
        B, A = decomposition.factors(rank)
        measured = torch.linalg.norm(X @ (linear.weight - B @ A).T)
        predicted = torch.sqrt(torch.sum(decomposition.s[rank:] ** 2))
        assert float(abs(measured - predicted) / predicted) < 1e-6


def test_methods_and_ordering_on_the_model(model_and_batches):
    model, calibration, evaluation = model_and_batches
    quality = {}
    for method in ("svd", "asvd", "whiten"):
        small, report = lnn.compress(model, 0.3, method, calibration=calibration)
        quality[method] = lnn.embedding_similarity(model, small, evaluation)
        assert abs(report.achieved_ratio - 0.3) < 0.02
        assert len(report.layers) == 36 or models.minilm_path() is None
    assert quality["whiten"] > quality["asvd"] > quality["svd"]


def test_fwsvd_uses_fisher(model_and_batches):
    model, calibration, _ = model_and_batches
    small, report = lnn.compress(model, 0.3, "fwsvd", calibration=calibration[:2],
                                 loss_fn=lnn.contrastive_loss)
    plain, plain_report = lnn.compress(model, 0.3, "svd", calibration=calibration[:2])
    fw = np.mean([r.output_error for r in report.layers])
    sv = np.mean([r.output_error for r in plain_report.layers])
    assert math.isfinite(fw) and fw != pytest.approx(sv, rel=1e-6)


@pytest.mark.parametrize("allocation", ["energy", "welore"])
def test_allocations_meet_budget(model_and_batches, allocation):
    model, calibration, _ = model_and_batches
    _, report = lnn.compress(model, 0.3, "whiten", calibration=calibration,
                             allocation=allocation)
    assert report.achieved_ratio >= 0.3 - 1e-9
    assert len({r.rank for r in report.layers}) > 1  # non-uniform
    text = str(report)
    assert "output err." in text


def test_layers_that_would_not_gain_stay_dense():
    shapes = {"a": (64, 64), "b": (64, 64)}
    spectra = {"a": np.geomspace(1, 1e-3, 64), "b": np.ones(64)}
    ranks = lnn.allocate(spectra, shapes, 0.25, "welore")
    assert ranks["b"] is None and ranks["a"] is not None


def test_eora_improves_pruned_model(model_and_batches):
    model, calibration, evaluation = model_and_batches
    pruned = lnn.prune(model, pattern="2:4")
    fixed = lnn.compensate(model, pruned, calibration, rank=32)
    before = lnn.embedding_similarity(model, pruned, evaluation)
    after = lnn.embedding_similarity(model, fixed, evaluation)
    assert after > before + 0.01


def test_save_load_round_trip(tmp_path, model_and_batches):
    model, calibration, evaluation = model_and_batches
    small, _ = lnn.compress(model, 0.5, "whiten", calibration=calibration[:2], eora=True,
                            eora_rank=4)
    path = tmp_path / "small.safetensors"
    lnn.save(small, path)
    fresh = __import__("copy").deepcopy(model)
    lnn.load(fresh, path)
    for (name, a), (_, b) in zip(small.state_dict().items(), fresh.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    batch = evaluation[0]
    with torch.no_grad():
        assert torch.equal(small(**batch).last_hidden_state, fresh(**batch).last_hidden_state)


def test_bad_input(model_and_batches):
    model, calibration, _ = model_and_batches
    for ratio in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="ratio"):
            lnn.compress(model, ratio, "svd")
    with pytest.raises(ValueError, match="no matching"):
        lnn.compress(torch.nn.Sequential(torch.nn.ReLU()), 0.3, "svd")
    with pytest.raises(ValueError, match="calibration"):
        lnn.compress(model, 0.3, "whiten")
    with pytest.raises(ValueError, match="calibration data do not fit"):
        lnn.compress(model, 0.3, "whiten", calibration=[torch.zeros(2, 3, 5)])
    with pytest.raises(ValueError, match="loss_fn"):
        lnn.compress(model, 0.3, "fwsvd", calibration=calibration)
    broken = torch.nn.Sequential(torch.nn.Linear(4, 4))
    with torch.no_grad():
        broken[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        lnn.compress(broken, 0.3, "svd", layers=["0"])
    with pytest.raises(ValueError, match="method"):
        lnn.compress(model, 0.3, "pca", calibration=calibration)
