"""Any transformer, found by structure, compressed, written as a folder and opened in one
line: tiny random models of each family built from their configs (offline)."""

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn.structure import mlp_pairs  # noqa: E402

VOCAB = 96
SIZES = dict(num_hidden_layers=2, num_attention_heads=4)
DECODER = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_key_value_heads=2,
               **SIZES)
ENCODER = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
               max_position_embeddings=70, **SIZES)
FAMILIES = {
    "llama": ("LlamaConfig", DECODER, "AutoModelForCausalLM"),
    "qwen2": ("Qwen2Config", DECODER, "AutoModelForCausalLM"),
    "mistral": ("MistralConfig", DECODER, "AutoModelForCausalLM"),
    "gpt2": ("GPT2Config", dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4,
                                n_positions=64, bos_token_id=0, eos_token_id=0),
             "AutoModelForCausalLM"),
    "opt": ("OPTConfig", dict(vocab_size=VOCAB, hidden_size=32, ffn_dim=64,
                              word_embed_proj_dim=32, max_position_embeddings=64, bos_token_id=0,
                              eos_token_id=0, pad_token_id=1, **SIZES),
            "AutoModelForCausalLM"),
    "bert": ("BertConfig", ENCODER, "AutoModelForMaskedLM"),
    "roberta": ("RobertaConfig", dict(ENCODER, pad_token_id=1), "AutoModelForMaskedLM"),
}
#: Linear layers per block: q, k, v, o and the MLP (three maps when gated, two otherwise;
#: GPT-2 fuses q, k, v into one).
PER_BLOCK = {"llama": 7, "qwen2": 7, "mistral": 7, "gpt2": 4, "opt": 6, "bert": 6,
             "roberta": 6}


def tiny(family, seed=0):
    config_name, options, auto = FAMILIES[family]
    torch.manual_seed(seed)
    config = getattr(transformers, config_name)(**options)
    return getattr(transformers, auto).from_config(config).eval()


def batches(count=4, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return [{"input_ids": torch.randint(2, VOCAB, (4, 16), generator=generator),
             "attention_mask": torch.ones(4, 16, dtype=torch.long)} for _ in range(count)]


@torch.no_grad()
def logits(model, batch):
    return model(**batch).logits


@pytest.mark.parametrize("family", list(FAMILIES))
def test_any_family_is_compressed_saved_as_a_folder_and_loaded_alone(family, tmp_path):
    model = tiny(family)
    layers = lnn.linear_layers(model)
    assert len(layers) == 2 * PER_BLOCK[family]  # the blocks' maps; the head stays
    assert not any("lm_head" in n or "cls." in n for n in layers)
    assert len(mlp_pairs(model, layers)) == 2  # one MLP a block, found by its widths
    calibration = batches()
    small, report = lnn.compress(model, 0.3, calibration=calibration, progress=False)
    assert 0.2 < report.achieved_ratio < 0.4
    before, after = logits(model, calibration[0]), logits(small, calibration[0])
    assert float((after - before).norm() / before.norm()) < 0.3
    folder = lnn.save(small, tmp_path / "small")
    loaded = lnn.load(folder)
    assert type(loaded) is type(model) and not loaded.training
    torch.testing.assert_close(logits(loaded, calibration[0]), after, rtol=0, atol=1e-6)
    stored = sum(p.numel() for p in loaded.parameters())
    assert stored < sum(p.numel() for p in model.parameters())
    if getattr(model.config, "tie_word_embeddings", False):  # stored once, tied again
        assert (loaded.get_output_embeddings().weight.data_ptr()
                == loaded.get_input_embeddings().weight.data_ptr())
        from safetensors import safe_open

        with safe_open(str(folder / "lrkit_model.safetensors"), framework="pt") as handle:
            shapes = [handle.get_slice(k).get_shape() for k in handle.keys()]
        assert shapes.count([VOCAB, 32]) == 1
    manifest = json.loads((folder / "lrkit.json").read_text())
    assert manifest["model_type"] == family and set(manifest["layers"]) <= set(layers)
    with pytest.raises(ValueError, match=r"lrkit\.nn\.load"):
        transformers.AutoModel.from_pretrained(folder)
    with pytest.raises(OSError):  # the class's own loader finds no weights of its name
        type(model).from_pretrained(folder)


def test_a_saved_folder_opens_in_a_fresh_process_and_generates(tmp_path):
    model = tiny("gpt2")  # Conv1D layers, tied head: the hardest case
    small, _ = lnn.compress(model, 0.3, calibration=batches(), progress=False)
    prompt = torch.tensor([[5, 6, 7, 8]])
    expected = small.generate(prompt, max_new_tokens=6, do_sample=False).tolist()
    lnn.save(small, tmp_path / "gpt2")
    code = ("import torch, lrkit.nn as lnn\n"
            f"model = lnn.load({str(tmp_path / 'gpt2')!r})\n"
            "print(model.generate(torch.tensor([[5, 6, 7, 8]]), max_new_tokens=6, "
            "do_sample=False).tolist())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == str(expected)


def test_the_tokenizer_is_saved_beside_the_model(tmp_path):
    from lrkit.nn.workloads import models

    if models.minilm_path() is None:
        pytest.skip("the MiniLM package (its tokenizer) is not installed")
    tokenizer = transformers.AutoTokenizer.from_pretrained(models.minilm_path())
    model = transformers.BertModel(transformers.BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
        **SIZES)).eval()
    inputs = tokenizer(["a sentence about low-rank factors", "another one"],
                       padding=True, return_tensors="pt")
    small, _ = lnn.compress(model, 0.3, calibration=[inputs], progress=False)
    folder = lnn.save(small, tmp_path / "encoder", tokenizer=tokenizer)
    reread = transformers.AutoTokenizer.from_pretrained(folder)
    again = reread(["a sentence about low-rank factors", "another one"], padding=True,
                   return_tensors="pt")
    torch.testing.assert_close(again["input_ids"], inputs["input_ids"])
    with torch.no_grad():
        torch.testing.assert_close(lnn.load(folder)(**again).last_hidden_state,
                                   small(**inputs).last_hidden_state)


def test_a_conv1d_model_round_trips_through_the_file_form(tmp_path):
    model = tiny("gpt2")
    small, _ = lnn.compress(model, 0.3, method="svd", progress=False)
    path = lnn.save(small, tmp_path / "gpt2.safetensors")
    loaded = lnn.load(tiny("gpt2", seed=5), path)
    batch = batches(1)[0]
    torch.testing.assert_close(logits(loaded, batch), logits(small, batch), rtol=0, atol=1e-6)


def test_folders_are_written_safely_and_refused_in_one_line(tmp_path):
    model = tiny("llama")
    other = tmp_path / "someone_elses"
    other.mkdir()
    (other / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="not an lrkit model folder"):
        lnn.save(model, other)
    assert (other / "config.json").read_text() == "{}"
    folder = lnn.save(model, tmp_path / "mine")
    lnn.save(model, folder)  # an earlier lrkit folder is replaced whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "someone_elses"]
    with pytest.raises(ValueError, match="AutoModel.from_pretrained"):
        lnn.load(other)
    (folder / "lrkit_model.safetensors").unlink()
    with pytest.raises(ValueError, match="lacks lrkit_model.safetensors"):
        lnn.load(folder)
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        lnn.load(tiny("llama"), damaged)
    with pytest.raises(ValueError, match="needs a transformers model"):
        lnn.save(torch.nn.Sequential(torch.nn.Linear(3, 3)), tmp_path / "plain")
    with pytest.raises(ValueError, match="tokenizer= is saved with a model folder"):
        lnn.save(model, tmp_path / "x.safetensors", tokenizer=object())


def test_a_folder_whose_config_names_no_class_loads_a_decoder_with_its_head(tmp_path):
    from lrkit.nn.workloads import models

    for family, expected in (("llama", "LlamaForCausalLM"), ("bert", "BertModel")):
        tiny(family).save_pretrained(tmp_path / family)
        settings = json.loads((tmp_path / family / "config.json").read_text())
        del settings["architectures"]  # as a config rebuilt from a GGUF file has it
        (tmp_path / family / "config.json").write_text(json.dumps(settings))
        config = transformers.AutoConfig.from_pretrained(tmp_path / family)
        loaded = models._model_class(config).from_pretrained(tmp_path / family)
        assert type(loaded).__name__ == expected


@pytest.mark.parametrize("family", ["llama", "gpt2", "bert"])
def test_sensitivity_probes_replaying_earlier_blocks_measure_the_same_gains(family,
                                                                            monkeypatch):
    """A probe reruns the model from the probed layer's block (the blocks before it replay
    their recorded outputs): the gains are those of full passes, bit for bit."""
    import contextlib

    from lrkit.nn.compression import replay, sensitivity
    from lrkit.nn.compression.factorization import Decomposition
    from lrkit.nn.surgery import linearize

    model = tiny(family)
    linearize(model)
    calibration, layers = batches(2), lnn.select_layers(model)
    statistics = lnn.collect_statistics(model, calibration, layers)
    decompositions = {n: Decomposition(m.weight, "whiten", statistics[n])
                      for n, m in layers.items()}
    ranks = dict.fromkeys(layers, 4)
    calls = []
    forward = replay.Replay.forward
    monkeypatch.setattr(replay.Replay, "forward",
                        lambda self, *a, **k: calls.append(1) or forward(self, *a, **k))
    replayed = sensitivity.layer_sensitivities(model, layers, decompositions, ranks,
                                               calibration)
    assert len(calls) == len(layers) // 2 * len(calibration)  # block 0 replayed for block 1
    monkeypatch.setattr(replay.BlockOutputs, "from_block",
                        lambda self, layer: contextlib.nullcontext())
    full = sensitivity.layer_sensitivities(model, layers, decompositions, ranks, calibration)
    assert replayed == full
    assert model.config.use_cache == tiny(family).config.use_cache  # restored


def test_int8_quantization_reaches_the_factors_and_keeps_the_outputs_close():
    from torch.ao.nn.quantized import dynamic as quantized

    model = tiny("llama")
    small, _ = lnn.compress(model, 0.3, calibration=batches(), progress=False)
    int8 = lnn.quantize_int8(small)
    kinds = {type(m) for m in int8.modules()}
    assert torch.nn.Linear not in kinds and lnn.ResizedLinear not in kinds
    assert quantized.Linear in kinds and lnn.LowRankLinear in kinds  # factors inside
    batch = batches(1)[0]
    before, after = logits(small, batch), logits(int8, batch)
    assert float((after - before).norm() / before.norm()) < 0.05
    assert small.lm_head.__class__ is torch.nn.Linear  # a copy: the original is untouched
