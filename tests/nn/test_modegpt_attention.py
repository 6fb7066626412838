"""MoDeGPT types II (query–key, CR) and III (value–output, SVD) against their closed forms,
and the narrowed attention in whole models (BERT and LLaMA with grouped-query attention
and rotary embeddings)."""

import copy

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn.compression.modegpt_attention import (  # noqa: E402
    AttentionModule,
    attention_modules,
    compress_attention,
    output_energy,
    query_key_selection,
    value_output_factors,
)
from lrkit.nn.layers import IndexedLinear  # noqa: E402
from lrkit.nn.workloads import models  # noqa: E402


def _tiny_llama(seed=0):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(vocab_size=60, hidden_size=64, intermediate_size=96,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, head_dim=16)
    return transformers.LlamaForCausalLM(config).eval()


def _token_batches(count=6, vocab=60):
    generator = torch.Generator().manual_seed(1)
    return [torch.randint(0, vocab, (2, 12), generator=generator) for _ in range(count)]


def test_indexed_linear_applies_its_rows_and_columns_and_zeros_the_rest():
    layer = IndexedLinear(6, 5, inputs=torch.tensor([4, 0, 2]), outputs=torch.tensor([3, 1]))
    torch.nn.init.normal_(layer.weight)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(7, 6)
    bias = torch.zeros(5)
    bias[[3, 1]] = layer.bias.detach()
    expected = x @ layer.dense_weight().T + bias
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert torch.equal(layer(x)[:, [0, 2, 4]], torch.zeros(7, 3))
    with pytest.raises(ValueError, match="outputs"):
        IndexedLinear(6, 5, outputs=torch.tensor([5]))


def test_query_key_selection_keeps_the_largest_norm_products_of_the_cr_bound():
    torch.manual_seed(0)
    module = AttentionModule("q", "k", "v", "o", heads=2, kv_heads=1, head_dim=6,
                             rotary=False)
    q, k = torch.nn.Linear(10, 12), torch.nn.Linear(10, 6)
    x = torch.randn(500, 10) * torch.linspace(3, 0.1, 10)
    stats = lnn.collect_statistics(torch.nn.Sequential(q), [x], {"q": q})["q"]
    energy_q, energy_k = output_energy(q, stats), output_energy(k, stats)
    with torch.no_grad():  # the energies are the squared output norms, bias included
        assert torch.allclose(energy_q, q(x).double().square().sum(0), rtol=1e-4)
        norms_q, norms_k = q(x).norm(dim=0).view(2, 6), k(x).norm(dim=0)
    kept = query_key_selection(module, energy_q, energy_k, 4)[0]
    score = norms_k * norms_q.sum(0)  # both query heads share the one key head
    assert set(kept.tolist()) == set(torch.topk(score, 4).indices.tolist())
    rotary = query_key_selection(AttentionModule(*"qkvo", 2, 1, 6, True), energy_q,
                                 energy_k, 4)[0].tolist()
    assert all((i + 3) % 6 in rotary for i in rotary)  # rotary pairs stay together


def test_value_output_factors_are_the_best_rank_k_module_on_the_attended_values():
    torch.manual_seed(0)
    module = AttentionModule(*"qkvo", heads=2, kv_heads=2, head_dim=5, rotary=False)
    W_O = torch.randn(8, 10, dtype=torch.float64)
    z = torch.randn(400, 10, dtype=torch.float64) * torch.linspace(2, 0.2, 10,
                                                                    dtype=torch.float64)
    factors, error = value_output_factors(module, W_O, z.T @ z, 3)
    for h, ((B,), A) in enumerate(factors):
        block = slice(5 * h, 5 * h + 5)
        target = z[:, block] @ W_O[:, block].T
        mine = z[:, block] @ (B @ A).T
        best = torch.linalg.svdvals(target)[3:].square().sum()  # Eckart–Young on the data
        assert torch.allclose((target - mine).square().sum(), best, rtol=1e-8)
    tails = sum(torch.linalg.svdvals(z[:, 5 * h:5 * h + 5] @ W_O[:, 5 * h:5 * h + 5].T)[3:]
                .square().sum() for h in range(2))
    blockwise = sum((z[:, 5 * h:5 * h + 5] @ W_O[:, 5 * h:5 * h + 5].T).square().sum()
                    for h in range(2))
    assert error == pytest.approx(float((tails / blockwise).sqrt()), rel=1e-8)


def test_narrowed_attention_is_exact_at_full_width_with_grouped_queries_and_rotary():
    model = _tiny_llama()
    batches = _token_batches()
    layers = lnn.linear_layers(model)
    stats = lnn.collect_statistics(model, batches, layers)
    found = attention_modules(model, layers)
    assert [(m.heads, m.kv_heads, m.head_dim, m.rotary) for m in found] == [(4, 2, 16, True)] * 2
    narrowed = copy.deepcopy(model)
    for module in found:
        new, errors = compress_attention(module, layers, stats, 16, 16)
        assert all(max(e) < 1e-6 for e in errors.values())
        for name, layer in new.items():
            lnn.surgery.replace_module(narrowed, name, layer)
    with torch.no_grad():
        assert torch.allclose(narrowed(batches[0]).logits, model(batches[0]).logits, atol=1e-5)


def test_modegpt_narrows_attention_heads_and_saves(tmp_path):
    model = _tiny_llama()
    batches = _token_batches()
    small, report = lnn.compress(model, 0.25, "modegpt", calibration=batches)
    assert abs(report.achieved_ratio - 0.25) < 0.02
    attention = small.model.layers[0].self_attn
    assert isinstance(attention.q_proj, IndexedLinear) and attention.q_proj.weight.shape == (48, 64)
    assert attention.v_proj.weight.shape == (24, 64) and attention.o_proj.weight.shape == (64, 48)
    assert small.model.layers[0].mlp.down_proj.in_features == 72
    with torch.no_grad():
        before = model(batches[0]).logits
        after = small(batches[0]).logits
    assert 0 < float((after - before).norm() / before.norm()) < 0.5
    path = tmp_path / "llama.safetensors"
    lnn.save(small, path)
    fresh = lnn.load(_tiny_llama(seed=3), path)
    with torch.no_grad():
        assert torch.equal(fresh(batches[0]).logits, after)


def test_bert_attention_with_biases_is_exact_at_full_width_and_halves_at_half():
    model = models.tiny_bert(hidden=64)
    generator = torch.Generator().manual_seed(0)
    batches = [{"input_ids": (ids := torch.randint(5, 500, (8, 16), generator=generator)),
                "attention_mask": torch.ones_like(ids)} for _ in range(4)]
    for layer in model.modules():  # non-zero biases, so the value bias fold is exercised
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.normal_(layer.bias, std=0.5)
    layers = {n: m for n, m in lnn.linear_layers(model).items() if "attention" in n}
    stats = lnn.collect_statistics(model, batches, layers)
    narrowed = copy.deepcopy(model)
    for module in attention_modules(model, layers):
        new, _ = compress_attention(module, layers, stats, module.head_dim, module.head_dim)
        for name, layer in new.items():
            lnn.surgery.replace_module(narrowed, name, layer)
    with torch.no_grad():
        assert torch.allclose(narrowed(**batches[0]).last_hidden_state,
                              model(**batches[0]).last_hidden_state, atol=1e-4)
    small, report = lnn.compress(model, 0.5, "modegpt", calibration=batches, layers=layers)
    assert report.achieved_ratio == pytest.approx(0.5)
    assert all(0 < r.output_error < 1 for r in report.layers)


def test_head_geometry_must_match_the_projections():
    from types import SimpleNamespace

    from lrkit.nn.compression.modegpt_attention import head_geometry

    q, kv = torch.nn.Linear(64, 64), torch.nn.Linear(64, 32)
    grouped = SimpleNamespace(head_dim=16, config=SimpleNamespace(num_attention_heads=4,
                                                                  num_key_value_heads=2))
    assert head_geometry(grouped, q, kv, kv) == (4, 2, 16)
    with pytest.raises(ValueError, match="head geometry"):
        head_geometry(grouped, q, kv, torch.nn.Linear(64, 64))  # value wider than key
    with pytest.raises(ValueError, match="head geometry"):
        head_geometry(SimpleNamespace(num_attention_heads=3), q, q, q)
