"""Low-rank training on a real workload: a small character-level transformer trained from
scratch on Shakespeare's plays, every lrkit method beside galore-torch's GaLoreAdamW and
plain AdamW, in one run (same model, data, batches, steps).

Each method trains in its own process and its measurements are kept in
``bench/results/training`` (see :mod:`trials`: ``LRKIT_BENCH_RESUME=1`` reuses them).
Each process uses 2 threads, the tables' timing conditions; ``LRKIT_BENCH_THREADS=1`` lets
runs whose times are not reported train side by side.
"""

from __future__ import annotations

import os

from lrkit.nn.training.lm_methods import SST_ITERATION

STEPS, BATCH, CONTEXT, WIDTH, DEPTH, RANK = 300, 16, 128, 192, 4, 32
#: Every method runs at its default learning rate times each of these; the table reports
#: the run with the lower perplexity on the selection windows (other validation windows
#: than the reported ones).
LR_SCALES = (1, 3)
PLOT = "docs/training_curves.png"
#: The longer run: these methods, each at the rate chosen above, for this many steps.
HORIZON_STEPS = 2000
HORIZON_METHODS = ("full", "galore", "dct", "random", "lowrank", "sst")
HORIZON_PLOT = "docs/training_horizon.png"
#: The projected optimizers also at GaLore's rank ratio (rank 128 of width 512 at 60 M).
HORIZON_WIDE_METHODS, WIDE_RANK = ("galore", "dct"), 48
#: The longest runs, for SST's claim (paper 30): its draws need many iterations of
#: ``SST_ITERATION`` steps before each vector has trained for long. Beside full rank, plain
#: ``B A`` and the baselines of SST's paper: LoRA from scratch and ReLoRA*.
LONG_STEPS, LONG_METHODS = 4000, ("full", "lowrank", "lora", "relora", "sst")
#: The model every table trains (``build_run``'s keywords; 4 heads, its default).
MODEL = {"context": CONTEXT, "width": WIDTH, "depth": DEPTH}
#: SST's claim in its paper's regime: OPT-125M saw 19.7 B tokens, 158 per parameter, at rank
#: 64 of 768 (8.3 %). This smaller model sees 20 M characters in ``REGIME_STEPS`` steps,
#: 172 per parameter, at rank 5 of 64 (7.8 %); the runs above see 4 per parameter or fewer,
#: where how fast a method learns matters more than what rank it can reach.
REGIME_MODEL, REGIME_RANK, REGIME_STEPS = {"context": CONTEXT, "width": 64, "depth": 2,
                                           "heads": 2}, 5, 10_000
#: Seeds of the regime runs (seed 1 too would add a row per seed and their mean).
REGIME_SEEDS = (0,)


def _runs():
    from lrkit.nn.training.lm_methods import TRAIN_LM_METHODS

    return [(method, None) for method in TRAIN_LM_METHODS] + [("galore", "galore-torch")]


def method_run(method, peer, lr, steps, rank, model, seed, queue):
    """One method's training run in a fresh process; puts its measurements on ``queue``."""
    import torch

    from lrkit.nn.training.gradient_projection import optimizer_state_bytes
    from lrkit.nn.training.lm_methods import build_run
    from lrkit.nn.workloads.datasets import shakespeare
    from lrkit.nn.workloads.language_model import CharCorpus, perplexity, pretrain

    torch.set_num_threads(int(os.environ.get("LRKIT_BENCH_THREADS", "2")))
    corpus = CharCorpus(shakespeare())
    run = build_run(method, corpus.vocab_size, rank, lr=lr, seed=seed, peer=peer, **model)
    history = pretrain(run.model, corpus, run.optimizer, steps, batch_size=BATCH, seed=seed,
                       step_callback=run.step_callback)
    queue.put({"trainable": run.trainable, "perplexity": history.perplexity, "lr": lr,
               "validation": history.validation,
               "selection": perplexity(run.model, corpus, seed=1),
               "state_mb": optimizer_state_bytes(run.optimizer) / 1e6,
               "step": history.seconds_per_step, "losses": history.losses,
               "welore": _welore_line(run.model) if method == "full" else None})


def training_table():
    from lrkit.nn.training.lm_methods import default_lr

    rows = ["| method | learning rate | trainable params | optimizer state (MB) | validation "
            "perplexity | s / step |", "|---|---:|---:|---:|---:|---:|"]
    results = {}
    for method, peer in _runs():
        name = f"{peer} GaLoreAdamW" if peer else f"lrkit {method}"
        runs = []
        for scale in LR_SCALES:
            lr = scale * default_lr(method, peer)
            runs.append(_kept(name, method, peer, lr, STEPS))
        result = results[name] = min(runs, key=lambda run: run["selection"])
        rows.append(f"| {name} | {result['lr']:g} | {result['trainable']:,} | "
                    f"{result['state_mb']:.2f} | {result['perplexity']:.2f} | "
                    f"{result['step']:.3f} |")
        print(rows[-1], flush=True)
    from lrkit.plotting import plot_training_curves

    plot_training_curves({name: r["losses"] for name, r in results.items()}, PLOT,
                         title="TinyGPT on Shakespeare (character level)")
    return "\n".join(rows + [""] + _claims(results)
                     + [results["lrkit full"]["welore"], _projection_cost(),
                        f"\n![training loss]({PLOT.removeprefix('docs/')})", "",
                        _horizon(results), "", _long_runs(results), "",
                        _regime_runs(results)])


def _kept(label, method, peer, lr, steps, rank=RANK, model=MODEL, seed=0):
    """``method_run``'s measurements, kept as ``bench/results/training/<label> lr <lr>``."""
    from trials import kept_run

    return kept_run("training", f"{label} lr {lr:g}",
                    _settings(method, peer, lr, steps, rank, model, seed),
                    method_run, method, peer, lr, steps, rank, model, seed)


def _settings(method, peer, lr, steps, rank, model, seed):
    """What a kept training run was measured with (a resumed bench reruns it otherwise);
    without ``seed``, seed 0."""
    settings = {"method": method, "peer": peer, "steps": steps, "batch": BATCH, **model,
                "rank": rank, "lr": lr, **({"seed": seed} if seed else {})}
    if method in ("sst", "relora"):
        settings["iteration"] = SST_ITERATION
    return settings


def _horizon(results):
    """The gaps at ``HORIZON_STEPS``: validation perplexity at each quarter of the run."""
    from lrkit.plotting import plot_training_curves

    runs = {f"lrkit {method}": _kept(f"horizon {method}", method, None,
                                     results[f"lrkit {method}"]["lr"], HORIZON_STEPS)
            for method in HORIZON_METHODS}
    for method in HORIZON_WIDE_METHODS:
        runs[f"lrkit {method}, rank {WIDE_RANK}"] = _kept(
            f"horizon {method} rank {WIDE_RANK}", method, None,
            results[f"lrkit {method}"]["lr"], HORIZON_STEPS, WIDE_RANK)
    rows = [f"Longer runs ({HORIZON_STEPS} steps, each method at the rate chosen above; rank "
            f"{RANK} = width / {WIDTH // RANK}, and for the projections also rank {WIDE_RANK} = "
            f"width / {WIDTH // WIDE_RANK}, GaLore's ratio at 60 M): validation perplexity as "
            "training goes on, and the gap to full AdamW.", "", *_validation_table(runs)]
    rows += ["", f"At {HORIZON_STEPS} steps: " + _sst_line(runs)]
    wide = {method: runs[f"lrkit {method}, rank {WIDE_RANK}"] for method in HORIZON_WIDE_METHODS}
    gaps = "; ".join(f"{method} {_against_full(run, runs['lrkit full'])}"
                     for method, run in wide.items())
    rows += ["", f"At rank {WIDE_RANK}: {gaps} (GaLore's paper: +2.4 % at 60 M on C4); DCT "
             f"{100 * (wide['dct']['perplexity'] / wide['galore']['perplexity'] - 1):+.1f} % "
             "against GaLore."]
    plot_training_curves({name: run["losses"] for name, run in runs.items()}, HORIZON_PLOT,
                         title=f"TinyGPT on Shakespeare, {HORIZON_STEPS} steps")
    rows.append(f"\n![training loss, longer runs]({HORIZON_PLOT.removeprefix('docs/')})")
    return "\n".join(rows)


def _long_runs(results):
    """Full rank, the low-rank baselines and SST for ``LONG_STEPS``: SST's share of the gap,
    against plain ``B A`` and against the paper's own baselines."""
    runs = {f"lrkit {method}": _kept(f"long {method}", method, None,
                                     results[f"lrkit {method}"]["lr"], LONG_STEPS)
            for method in LONG_METHODS}
    rows = [f"Longest runs ({LONG_STEPS} steps, {LONG_STEPS // SST_ITERATION} SST draws and "
            f"ReLoRA* merges, one every {SST_ITERATION} steps), at the rates chosen above.", "",
            *_validation_table(runs), "", f"At {LONG_STEPS} steps: " + _sst_line(runs),
            "", _paper_baselines_line(runs)]
    return "\n".join(rows)


def _regime_runs(results):
    """The methods of :func:`_long_runs` on ``REGIME_MODEL`` for ``REGIME_STEPS``, at the
    token budget per parameter and the rank ratio of SST's paper, for each of
    ``REGIME_SEEDS``."""
    by_seed = {seed: {f"lrkit {method}": _kept(
        f"regime {method}" + (f" seed {seed}" if seed else ""), method, None,
        results[f"lrkit {method}"]["lr"], REGIME_STEPS, REGIME_RANK, REGIME_MODEL, seed)
        for method in LONG_METHODS} for seed in REGIME_SEEDS}
    runs = by_seed[REGIME_SEEDS[0]]
    full, large = runs["lrkit full"]["trainable"], results["lrkit full"]["trainable"]
    width, draws = REGIME_MODEL["width"], REGIME_STEPS // SST_ITERATION
    rows = [f"In SST's paper's regime: a smaller decoder (width {width}, "
            f"{REGIME_MODEL['depth']} blocks, {REGIME_MODEL['heads']} heads, {full:,} "
            f"parameters) for {REGIME_STEPS:,} steps, {REGIME_STEPS * BATCH * CONTEXT / full:.0f}"
            " characters per parameter (OPT-125M in paper 30: 19.7 B tokens, 158 per parameter;"
            f" the runs above: at most {LONG_STEPS * BATCH * CONTEXT / large:.0f}), rank "
            f"{REGIME_RANK} = {100 * REGIME_RANK / width:.1f} % of the width (the paper: 64 of "
            f"768 = 8.3 %); {draws} SST draws and ReLoRA* merges, a re-SVD after every "
            f"{-(-width // REGIME_RANK)} draws. Seed {REGIME_SEEDS[0]}:", "",
            *_validation_table(runs), "",
            "Validation perplexity at the end for each seed (the initialisation and the order "
            "of the batches), and the share of the gap to full rank SST closes: from the better "
            "of LoRA and ReLoRA* (its paper's measure: 67.6 % on OPT-125M), and from plain "
            "`B A`.", "", *_regime_seed_table(by_seed)]
    return "\n".join(rows)


def _regime_seed_table(by_seed):
    """One row per seed of the final perplexities and SST's shares of the gap, and their
    mean over several seeds."""
    methods = ("full", "lowrank", "lora", "relora", "sst")
    rows = ["| seed | full | plain `B A` | LoRA | ReLoRA* | SST | closed, from the better "
            "baseline | closed, from plain `B A` |", "|---:|" + "---:|" * 7]
    shares = []
    for seed, runs in by_seed.items():
        ppl = {method: runs[f"lrkit {method}"]["perplexity"] for method in methods}
        shares.append([_share_closed(ppl["sst"], low, ppl["full"])
                       for low in (_paper_baseline(runs)[1], ppl["lowrank"])])
        rows.append(f"| {seed} | " + " | ".join(f"{ppl[m]:.2f}" for m in methods)
                    + "".join(f" | {share:.0f} %" for share in shares[-1]) + " |")
    if len(shares) == 1:
        return rows
    means = [sum(column) / len(column) for column in zip(*shares, strict=True)]
    return rows + ["| mean | | | | | |" + "".join(f" {m:.0f} % |" for m in means)]


def _share_closed(sst, low, full):
    """Percent of the gap between ``low`` and ``full`` perplexity that ``sst`` closes."""
    return 100 * (low - sst) / (low - full)


def _validation_table(runs):
    """Rows of validation perplexity at each quarter of ``runs`` and the gap to full AdamW."""
    quarters = [step for step, _ in runs["lrkit full"]["validation"]]
    full = runs["lrkit full"]["perplexity"]
    rows = ["| method | learning rate | optimizer state (MB) | "
            + " | ".join(f"step {s}" for s in quarters) + " | gap at the end |",
            "|---|---:|---:|" + "---:|" * (len(quarters) + 1)]
    for name, run in runs.items():
        values = " | ".join(f"{ppl:.2f}" for _, ppl in run["validation"])
        rows.append(f"| {name} | {run['lr']:g} | {run['state_mb']:.2f} | {values} | "
                    f"{100 * (run['perplexity'] / full - 1):+.1f} % |")
    return rows


def _claims(results):
    lines = []
    for name in ("lrkit galore", "lrkit dct", "galore-torch GaLoreAdamW"):
        lines.append(f"{name}: perplexity {_against_full(results[name], results['lrkit full'])}.")
    lines.append(_sst_line(results))
    return [line + "\n" for line in lines]


def _against_full(run, full):
    """``+2.3 % against full AdamW with 68 % less optimizer state``."""
    return (f"{100 * (run['perplexity'] / full['perplexity'] - 1):+.1f} % against full AdamW "
            f"with {100 * (1 - run['state_mb'] / full['state_mb']):.0f} % less optimizer state")


def _sst_line(runs):
    """What share of the gap between plain low rank and full rank SST closes (paper 30), in
    ``runs`` keyed ``lrkit lowrank``, ``lrkit sst`` and ``lrkit full``."""
    low, sst, full = (runs[f"lrkit {method}"]["perplexity"]
                      for method in ("lowrank", "sst", "full"))
    return _gap_closed(sst, "plain low-rank training", low, full) + "."


def _paper_baselines_line(runs):
    """SST's share of the gap as its paper measures it: from the better of LoRA and ReLoRA*
    (both from scratch, a frozen random start plus a trained ``B A``) to full rank."""
    lora, relora, sst, full = (runs[f"lrkit {method}"]["perplexity"]
                               for method in ("lora", "relora", "sst", "full"))
    name, low = _paper_baseline(runs)
    return (f"Against the paper's own baselines, from scratch: LoRA {lora:.2f}, ReLoRA* "
            f"{relora:.2f}; its 67.6 % (OPT-125M, 19.7 B tokens) is measured from the better "
            f"one, here {name}: " + _gap_closed(sst, name, low, full) + ".")


def _paper_baseline(runs):
    """The better of SST's paper's baselines in ``runs``: ``("LoRA" | "ReLoRA*", perplexity)``."""
    return min((("LoRA", runs["lrkit lora"]["perplexity"]),
                ("ReLoRA*", runs["lrkit relora"]["perplexity"])), key=lambda pair: pair[1])


def _gap_closed(sst, baseline, low, full):
    """``SST (5.72) closes 59 % of the gap between ReLoRA* (6.70) and full rank (5.03)``."""
    if sst >= low:
        return f"SST ({sst:.2f}) does not improve on {baseline} ({low:.2f})"
    return (f"SST ({sst:.2f}) closes {_share_closed(sst, low, full):.0f} % of the gap "
            f"between {baseline} ({low:.2f}) and full rank ({full:.2f})")


def _welore_line(model):
    """Which block layers of the fully trained model WeLore would make low rank."""
    from lrkit.nn.training import welore_ranks
    from lrkit.nn.workloads.language_model import block_layers

    by_kind = {}
    for name, (rank, full) in welore_ranks(model, block_layers).items():
        kind = name.split(".", 2)[2]  # attention.qkv, mlp.fc, ...
        by_kind.setdefault(kind, []).append(rank / full)
    shares = ", ".join(f"{kind} {100 * sum(v) / len(v):.0f} %" for kind, v in by_kind.items())
    return (f"WeLore on the fully trained model (rank kept as a share of full rank, mean over "
            f"blocks): {shares}.\n")


def _projection_cost(size=1024, rank=RANK, repeat=5):
    """Seconds of one basis refresh at ``size × size``: GaLore's SVD against the DCT
    column selection (one matmul and a sort)."""
    import torch
    from timing import best_time

    from lrkit.nn.training.gradient_projection import dct_matrix

    grad = torch.randn(size, size)
    D = dct_matrix(size)
    svd = best_time(lambda: torch.linalg.svd(grad, full_matrices=False)[0][:, :rank], repeat)
    dct = best_time(lambda: torch.topk((D.T @ grad).abs().sum(1), rank).indices, repeat)
    return (f"Basis refresh at {size} × {size}, rank {rank} (best of {repeat}): SVD "
            f"{1e3 * svd:.1f} ms, DCT selection {1e3 * dct:.1f} ms ({svd / dct:.0f}× cheaper).")


SECTIONS = [
    ("## Low-rank training: TinyGPT on Shakespeare",
     f"A GPT-style decoder (width {WIDTH}, {DEPTH} blocks, 4 heads, context {CONTEXT}, 1.8 M "
     f"parameters) trained from scratch on the 42 plays of the `shakespeare` package (5.1 M "
     f"characters, last 5 % held out) for {STEPS} steps of {BATCH} windows; rank {RANK} for "
     "every projection and low-rank layer of the blocks (embeddings and head stay dense, as "
     "in GaLore); projections refreshed every 100 steps; SST keeps each layer's whole "
     f"spectrum and trains every singular value and {RANK} singular-vector pairs (the "
     f"paper's enhanced gradient), drawn anew every {SST_ITERATION} steps, a re-SVD after a "
     f"round of {WIDTH} / {RANK} = {WIDTH // RANK} draws. Every method runs at its default "
     "learning rate (AdamW 1e-3, projected 4e-3 with scale 0.25) and at 3× it, and the table "
     "shows the run with the lower perplexity on 8 selection batches; validation perplexity "
     "over 8 other fixed batches. Each run in its own process, in turn, 2 cores.",
     training_table),
]

if __name__ == "__main__":
    print(training_table())
