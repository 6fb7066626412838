"""Issue 13: sensitivity-based rank allocation, the sequential closed-form refit, and the
``method="auto"`` default of ``lnn.compress``."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn.compression.allocation import damage, layer_cost  # noqa: E402
from lrkit.nn.compression.refit import PairedStatistics, RefitProblem, layer_stages  # noqa: E402
from lrkit.nn.compression.sensitivity import layer_sensitivities  # noqa: E402
from lrkit.nn.workloads import models  # noqa: E402


def _paired(x, x_hat):
    stats = PairedStatistics.zeros(x.shape[1])
    stats.add(x, x_hat)
    return stats


def _inputs(seed, tokens=400, n=24):
    """Correlated inputs with a non-zero mean, and a drifted copy (what the compressed
    predecessors would feed the layer)."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(n, n, generator=g, dtype=torch.float64) * torch.linspace(2, 0.1, n,
                                                                                   dtype=torch.float64)
    x = torch.randn(tokens, n, generator=g, dtype=torch.float64) @ mixing + 0.5
    drift = 0.1 * torch.randn(n, n, generator=g, dtype=torch.float64)
    x_hat = x + torch.tanh(x @ drift) + 0.02 * torch.randn(tokens, n, generator=g,
                                                            dtype=torch.float64)
    return x, x_hat


@pytest.mark.parametrize("with_bias", [True, False])
def test_refit_is_the_best_rank_r_layer_and_never_worse_than_whitening(with_bias):
    x, x_hat = _inputs(0)
    g = torch.Generator().manual_seed(1)
    W = torch.randn(16, 24, generator=g, dtype=torch.float64)
    b = torch.randn(16, generator=g, dtype=torch.float64) if with_bias else None
    target = x @ W.T + (0 if b is None else b)
    problem = RefitProblem(W, b, _paired(x, x_hat))
    plain = lnn.Decomposition(W, "whiten", lnn.LayerStatistics(x.T @ x, x.abs().sum(0),
                                                                x.shape[0]))
    for rank in (2, 6, 12):
        B, A, bias = problem.factors(rank)
        assert (bias is None) == (b is None)
        fitted = x_hat @ (B @ A).T + (0 if bias is None else bias)
        error = torch.linalg.norm(target - fitted)
        # the closed-form error the report shows is the error on the data
        reference = torch.linalg.norm(target - (target.mean(0) if with_bias else 0))
        assert problem.error(rank) == pytest.approx(float(error / reference), rel=1e-6)
        B0, A0 = plain.factors(rank)
        unfitted = x_hat @ (B0 @ A0).T + (0 if b is None else b)
        assert error <= torch.linalg.norm(target - unfitted) * (1 + 1e-9)
        # no random rank-r perturbation of the optimum does better
        for trial in range(5):
            gp = torch.Generator().manual_seed(10 + trial)
            Bp = B + 1e-3 * torch.randn(B.shape, generator=gp, dtype=torch.float64)
            Ap = A + 1e-3 * torch.randn(A.shape, generator=gp, dtype=torch.float64)
            other = x_hat @ (Bp @ Ap).T + (0 if b is None else target.mean(0)
                                           - (x_hat @ (Bp @ Ap).T).mean(0))
            assert error <= torch.linalg.norm(target - other) * (1 + 1e-9)


def test_refit_without_drift_is_whitening():
    x, _ = _inputs(2)
    W = torch.randn(10, 24, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    problem = RefitProblem(W, None, _paired(x, x))
    plain = lnn.Decomposition(W, "whiten", lnn.LayerStatistics(x.T @ x, x.abs().sum(0),
                                                                x.shape[0]))
    assert torch.allclose(problem.s, plain.s, rtol=1e-8)
    B, A, _ = problem.factors(5)
    B0, A0 = plain.factors(5)
    assert torch.allclose(B @ A, B0 @ A0, atol=1e-8)


def test_stages_group_the_layers_that_read_one_input():
    model = models.tiny_bert()
    ids = torch.randint(5, 500, (2, 12), generator=torch.Generator().manual_seed(0))
    layers = lnn.linear_layers(model)
    stages = layer_stages(model, layers, {"input_ids": ids, "attention_mask": torch.ones_like(ids)})
    assert [len(stage) for stage in stages] == [3, 1, 1, 1] * 2
    assert {name.rsplit(".", 1)[-1] for name in stages[0]} == {"query", "key", "value"}
    assert sum(stages, []) == [n for n in layers if n in sum(stages, [])]


def test_sensitivity_allocation_meets_the_budget_and_never_loses_to_uniform():
    rng = np.random.default_rng(0)
    for _ in range(50):
        shapes = {f"l{i}": tuple(int(d) for d in rng.integers(8, 64, 2)) for i in range(6)}
        spectra = {n: np.sort(rng.pareto(rng.uniform(0.5, 3), min(s)))[::-1] + 1e-3
                   for n, s in shapes.items()}
        weights = {n: float(rng.lognormal(0, 2)) for n in shapes}
        ratio = float(rng.uniform(0.1, 0.7))
        ranks = lnn.allocate(spectra, shapes, ratio, "sensitivity", weights)
        uniform = lnn.allocate(spectra, shapes, ratio, "uniform")
        budget = sum(layer_cost(s, r) for s, r in ((shapes[n], uniform[n]) for n in shapes))
        assert sum(layer_cost(shapes[n], r) for n, r in ranks.items()) <= max(
            budget, (1 - ratio) * sum(a * b for a, b in shapes.values()))
        assert damage(spectra, weights, ranks) <= damage(spectra, weights, uniform) + 1e-12
    with pytest.raises(ValueError, match="needs weights"):
        lnn.allocate(spectra, shapes, 0.3, "sensitivity")


class _Scale(torch.nn.Module):
    def forward(self, x):
        return 10 * x


def test_sensitivity_measures_how_a_layer_error_reaches_the_output():
    torch.manual_seed(0)
    first, second = torch.nn.Linear(16, 16), torch.nn.Linear(16, 16)
    with torch.no_grad():
        second.weight.copy_(torch.linalg.qr(torch.randn(16, 16))[0])  # orthogonal: no gain
    model = torch.nn.Sequential(first, _Scale(), second).double()
    batches = [torch.randn(64, 16, dtype=torch.float64) for _ in range(2)]
    layers = {"0": model[0], "2": model[2]}
    stats = lnn.collect_statistics(model, batches, layers)
    decompositions = {n: lnn.Decomposition(m.weight, "whiten", stats[n]) for n, m in layers.items()}
    gains = layer_sensitivities(model, layers, decompositions, {"0": 8, "2": 8}, batches)
    assert gains["0"] == pytest.approx(100.0, rel=1e-6)
    assert gains["2"] == pytest.approx(1.0, rel=1e-6)
    assert model[0] is first and model[2] is second  # restored


@pytest.mark.slow
@pytest.mark.skipif(models.minilm_path() is None, reason="needs the MiniLM package")
def test_auto_is_the_default_and_beats_uniform_whitening_on_minilm():
    from lrkit.nn.workloads import datasets

    model, tokenizer = models.load_minilm()
    calibration = datasets.text_batches(tokenizer, datasets.stdlib_sentences(128))
    held_out = datasets.text_batches(tokenizer, datasets.stdlib_sentences(64, "evaluation"))
    small, report = lnn.compress(model, 0.3, calibration=calibration)
    plain, _ = lnn.compress(model, 0.3, "whiten", calibration=calibration)
    assert report.method.startswith("auto")
    assert report.achieved_ratio >= 0.3 - 1e-9
    assert all(np.isfinite(layer.output_error) for layer in report.layers)
    auto = lnn.embedding_similarity(model, small, held_out)
    uniform = lnn.embedding_similarity(model, plain, held_out)
    assert auto > uniform + 0.03, (auto, uniform)
    with pytest.raises(ValueError, match="calibration"):
        lnn.compress(model, 0.3)


def test_rmt_rank_finds_the_planted_signal_rank():
    from lrkit.nn.compression.allocation import marchenko_pastur_rank

    rng = np.random.default_rng(0)
    for rank, dim, tokens in ((3, 64, 2000), (10, 128, 4000), (1, 96, 500)):
        basis = np.linalg.qr(rng.standard_normal((dim, rank)))[0]
        strengths = np.linspace(6, 3, rank)  # spikes well above the BBP threshold
        x = rng.standard_normal((tokens, dim)) + (rng.standard_normal((tokens, rank))
                                                  * strengths) @ basis.T
        assert marchenko_pastur_rank(np.linalg.eigvalsh(x.T @ x), tokens) == rank


def test_rmt_allocation_compresses_with_no_budget():
    torch.manual_seed(0)
    model = torch.nn.Sequential()
    model.add_module("attention", torch.nn.Linear(64, 64))
    basis = torch.linalg.qr(torch.randn(64, 4))[0]
    batches = [torch.randn(500, 64) * 0.1 + torch.randn(500, 4) @ basis.T * 3 for _ in range(2)]
    small, report = lnn.compress(model, None, "whiten", allocation="rmt", calibration=batches)
    assert report.layers[0].rank == 4 and "ranks from the data" in report.title
    assert report.layers[0].output_error < 0.2  # what is left is the isotropic noise
    with pytest.raises(ValueError, match="ratio=None"):
        lnn.compress(model, 0.3, "whiten", allocation="rmt", calibration=batches)
    with pytest.raises(ValueError, match="ratio must be"):
        lnn.compress(model, None, "whiten", calibration=batches)


def test_distillation_lifts_a_compressed_model_and_the_perturbation_term_holds_weights():
    teacher = models.tiny_bert(hidden=64)
    generator = torch.Generator().manual_seed(0)

    def batch():
        ids = torch.randint(5, 500, (16, 16), generator=generator)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    train, held_out = [batch() for _ in range(4)], [batch() for _ in range(2)]
    student, _ = lnn.compress(teacher, 0.6, "svd")

    def gap(model):
        with torch.no_grad():
            return sum(float(torch.mean((model(**b).last_hidden_state
                                         - teacher(**b).last_hidden_state) ** 2))
                       for b in held_out)

    def drift(model):
        modules = dict(teacher.named_modules())
        return sum(float(torch.sum((m.weight - modules[n].weight).detach() ** 2))
                   for n, m in model.named_modules() if isinstance(m, lnn.LowRankLinear))

    import copy
    before = gap(student)
    free, history = lnn.distill(copy.deepcopy(student), teacher, train, steps=60, lr=3e-3,
                                perturbation=0.0)
    held, _ = lnn.distill(copy.deepcopy(student), teacher, train, steps=60, lr=3e-3,
                          perturbation=10.0)
    assert history.feature[-1] < 0.5 * history.feature[0]
    assert gap(free) < 0.7 * before
    assert drift(held) < drift(free)
    assert all(p.requires_grad for p in free.parameters())  # flags restored
    with pytest.raises(ValueError, match="no LowRankLinear"):
        lnn.distill(teacher, teacher, train, steps=1)
    with pytest.raises(ValueError, match="batches is empty"):
        lnn.distill(student, teacher, [], steps=1)


def test_feature_compression_keeps_the_principal_outputs_and_their_mean():
    torch.manual_seed(0)
    layer = torch.nn.Linear(32, 24)
    basis = torch.linalg.qr(torch.randn(32, 6))[0]
    x = torch.randn(2000, 6) @ basis.T * 3 + 0.01 * torch.randn(2000, 32) + 2.0  # mean 2
    model = torch.nn.Sequential()
    model.add_module("attention", layer)
    small, report = lnn.compress(model, 0.5, "features", calibration=[x])
    with torch.no_grad():
        error = torch.linalg.norm(small(x) - model(x)) / torch.linalg.norm(model(x))
    assert report.layers[0].rank < 24 and error < 0.01  # rank ≥ 6 keeps every direction
    # without the bias shift the dropped directions would lose their (large) mean
    statistics = lnn.collect_statistics(model, [x], {"attention": layer})["attention"]
    decomposition = lnn.Decomposition(layer.weight, "features", statistics)
    assert float(decomposition.bias_shift(3).norm()) > 0


def test_nystrom_keeps_independent_neurons_and_refits_the_down_projection():
    from lrkit.nn.compression.modegpt import nystrom_mlp, ridge_leverage

    torch.manual_seed(0)
    up, down = torch.nn.Linear(8, 12), torch.nn.Linear(12, 5)
    x = torch.randn(3000, 8, dtype=torch.float64)
    h = torch.relu(x @ up.weight.double().T + up.bias.double())
    h[:, 3] = 0.0                      # a dead neuron
    h[:, 7] = 2.0 * h[:, 2]            # a redundant one
    C = h.T @ h
    scores = ridge_leverage(C)
    assert scores[3] == 0 and scores[7] < scores.max()
    # closed form: the refit is the least-squares down-projection from the kept neurons
    _, new_down, kept = nystrom_mlp([up], down, C, 9)
    assert 3 not in kept.tolist()
    target = h @ down.weight.double().T
    solution = torch.linalg.lstsq(h[:, kept], target).solution.T
    assert torch.allclose(new_down.weight.double(), solution, atol=1e-5)


def test_modegpt_shrinks_mlps_to_plain_smaller_layers_and_saves(tmp_path):
    model = models.tiny_bert(hidden=64)
    generator = torch.Generator().manual_seed(0)
    batches = [{"input_ids": (ids := torch.randint(5, 500, (8, 16), generator=generator)),
                "attention_mask": torch.ones_like(ids)} for _ in range(4)]
    small, report = lnn.compress(model, 0.4, "modegpt", calibration=batches)
    assert abs(report.achieved_ratio - 0.4) < 0.02
    mlp = small.encoder.layer[0]
    assert mlp.intermediate.dense.out_features == mlp.output.dense.in_features == 153
    assert [layer.name for layer in report.layers] == list(lnn.linear_layers(model))
    path = tmp_path / "m.safetensors"
    lnn.save(small, path)
    fresh = lnn.load(models.tiny_bert(hidden=64), path)
    with torch.no_grad():
        assert torch.equal(fresh(**batches[0]).last_hidden_state,
                           small(**batches[0]).last_hidden_state)
    with pytest.raises(ValueError, match="no MLP"):
        lnn.compress(model, 0.4, "modegpt", calibration=batches,
                     layers=["encoder.layer.0.attention.self.query"])


def test_measured_sensitivities_are_reported_and_reused():
    model = models.tiny_bert(hidden=64)
    generator = torch.Generator().manual_seed(0)
    batches = [{"input_ids": (ids := torch.randint(5, 500, (8, 16), generator=generator)),
                "attention_mask": torch.ones_like(ids)} for _ in range(4)]
    statistics = lnn.collect_statistics(model, batches, lnn.linear_layers(model))
    _, first = lnn.compress(model, 0.3, calibration=batches)
    assert set(first.sensitivities) == {n for n in lnn.linear_layers(model)
                                        if "attention" in n}  # the MLPs go by Nyström
    again, second = lnn.compress(model, 0.3, statistics=statistics,
                                 sensitivities=first.sensitivities)
    assert [r.rank for r in second.layers] == [r.rank for r in first.layers]
    _, uniform = lnn.compress(model, 0.3, "whiten", calibration=batches)
    assert uniform.sensitivities is None
