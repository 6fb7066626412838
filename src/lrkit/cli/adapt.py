"""``lrkit adapt``: fine-tune a pretrained network for sentence classification with adapters."""

from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from lrkit.cli.console import (
    RegistryChoices,
    add_seed,
    add_verb,
    check_plot_path,
    console,
    fraction_arg,
    number_arg,
    positive_int_arg,
)
from lrkit.cli.nn_inputs import ROTTEN_TOMATOES, load_model, read_labelled_text
from lrkit.io import check_writable

#: The adapter registry (:data:`lrkit.nn.adapters.ADAPTERS`), loaded when first read.
METHODS = RegistryChoices("lrkit.nn.adapters", "ADAPTERS")


def register(sub):
    parser = add_verb(sub, "adapt", "fine-tune a pretrained network with low-rank or "
                      "singular-value adapters on labelled sentences", extra="nn")
    parser.add_argument("model", help="'minilm' (the packaged all-MiniLM-L6-v2) or a model folder")
    parser.add_argument("--method", choices=METHODS, metavar="METHOD", default="lora",
                        help="adapter method: %(choices)s")
    parser.add_argument("--rank", type=positive_int_arg, default=8, help="adapter rank")
    parser.add_argument("--alpha", type=number_arg(float, 0.0, low_open=True),
                        help="scaling numerator α of (α/r) B A (default: the rank)")
    parser.add_argument("--data", required=True, metavar="FILE",
                        help=f"CSV with 'text' and 'label' columns, or {ROTTEN_TOMATOES!r} (the "
                        "bundled movie-review sentiment data, with its fixed test split)")
    parser.add_argument("--test-fraction", type=fraction_arg, default=0.2,
                        help="held-out fraction of a CSV --data for the accuracy column")
    parser.add_argument("--max-examples", type=positive_int_arg,
                        help="train on at most this many examples")
    parser.add_argument("--max-test-examples", type=positive_int_arg, default=1000,
                        help="measure the held-out accuracy on at most this many examples "
                        "(a fixed sample; each measurement is a pass without gradients)")
    parser.add_argument("--epochs", type=positive_int_arg, default=3,
                        help="passes over the training examples")
    parser.add_argument("--lr", type=number_arg(float, 0.0, low_open=True), default=1e-3,
                        help="peak AdamW learning rate (linear warm-up and decay)")
    parser.add_argument("--batch-size", type=positive_int_arg, default=32,
                        help="examples per optimizer step")
    parser.add_argument("--max-length", type=positive_int_arg, default=64,
                        help="tokens per sentence (longer ones are truncated)")
    parser.add_argument("-o", "--output", metavar="ADAPTER.safetensors",
                        help="write the adapter and the classification head (not the base)")
    parser.add_argument("--plot", metavar="OUT.png", help="training-loss curve")
    add_seed(parser)
    parser.set_defaults(func=run)


def _split(args):
    """``(train, test, label names)`` as (texts, labels) pairs."""
    import numpy as np

    from lrkit.nn.workloads import datasets

    if args.data == ROTTEN_TOMATOES:
        return datasets.rotten_tomatoes("train"), datasets.rotten_tomatoes("test"), \
            ["rotten", "fresh"]
    texts, labels, names = read_labelled_text(args.data)
    order = np.random.default_rng(args.seed).permutation(len(texts))
    cut = int(round(args.test_fraction * len(texts)))
    if cut < 1 or cut >= len(texts):
        raise ValueError(f"--data {args.data} has {len(texts)} examples: too few to hold out "
                         f"--test-fraction {args.test_fraction}")

    def pick(index):
        return [texts[i] for i in index], [labels[i] for i in index]

    return pick(order[cut:]), pick(order[:cut]), names


def _sample(pairs, count, seed):
    """At most ``count`` of the ``(texts, labels)`` pairs, drawn once with ``seed``."""
    import numpy as np

    texts, labels = pairs
    if len(texts) <= count:
        return texts, labels
    keep = np.sort(np.random.default_rng(seed).choice(len(texts), count, replace=False))
    return [texts[i] for i in keep], [labels[i] for i in keep]


def _encoder_layers(name, _):
    """Every linear layer of the encoder but the pooler (mean pooling does not use it)."""
    return name.startswith("encoder.") and "pooler" not in name


def run(args):
    import lrkit.nn as lnn

    lnn.require_torch()
    inputs = [p for p in (args.model, args.data) if Path(p).exists()]
    if args.plot:
        check_plot_path(args.plot, inputs)
    if args.output:
        check_writable(args.output, (".safetensors",), inputs, what="-o")
    import torch

    torch.manual_seed(args.seed)
    with console.status(f"reading {args.data}"):
        (train_texts, train_labels), test, names = _split(args)
    if args.max_examples:
        train_texts = train_texts[:args.max_examples]
        train_labels = train_labels[:args.max_examples]
    test = _sample(test, args.max_test_examples, args.seed)
    with console.status(f"loading {args.model} and adding {args.method} adapters"):
        encoder, tokenizer = load_model(args.model)
        model = lnn.SentenceClassifier(encoder, num_labels=len(names), seed=args.seed)
        tuned = lnn.adapt(model, args.method, args.rank, alpha=args.alpha, seed=args.seed,
                          targets=_encoder_layers, modules_to_save=["classifier"])
    with console.status(f"tokenizing {len(train_texts):,} + {len(test[0]):,} examples"):
        train = lnn.labelled_batches(tokenizer, train_texts, train_labels, args.batch_size,
                                     args.max_length)
        held_out = lnn.labelled_batches(tokenizer, *test, 128, args.max_length)
    before = lnn.accuracy(tuned, held_out)
    start = time.perf_counter()
    history = lnn.finetune(tuned, train, lnn.classification_loss, epochs=args.epochs,
                           lr=args.lr, seed=args.seed, progress=True)
    seconds = time.perf_counter() - start
    after = lnn.accuracy(tuned, held_out)
    console.print(results_table(args, tuned, history, before, after, seconds, len(test[0])))
    if args.plot:
        from lrkit.plotting import plot_training_curves

        plot_training_curves({f"{args.method} r={args.rank}": history.losses}, args.plot,
                             title=f"lrkit adapt {args.model}: training loss")
        console.print(f"plot saved to {args.plot}")
    if args.output:
        lnn.save_adapter(tuned, args.output, extra={"labels": names, "model": args.model})
        console.print(f"adapter written to {args.output} "
                      f"({Path(args.output).stat().st_size / 2**20:.2f} MiB)")
    else:
        console.print("the adapter was not saved: add -o ADAPTER.safetensors to keep it")
    return 0


def results_table(args, tuned, history, before, after, seconds, held_out):
    import lrkit.nn as lnn

    count = lnn.trainable_parameters(tuned)
    window = max(1, min(20, history.steps // 2))  # two windows that do not overlap
    table = Table(title=f"lrkit adapt {args.model}: {args.method}, rank {args.rank}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for label, value in [
        ("trainable parameters", f"{count.trainable:,} ({100 * count.fraction:.3f} %)"),
        ("steps", f"{history.steps} ({args.epochs} epoch{'' if args.epochs == 1 else 's'})"),
        (f"training loss: first / last {window} steps",
         f"{sum(history.losses[:window]) / window:.4f} / {history.final_loss(window):.4f}"),
        (f"held-out accuracy ({held_out} examples): before / after",
         f"{before:.3f} / {after:.3f}"),
        ("seconds per epoch", f"{seconds / args.epochs:.1f}"),
    ]:
        table.add_row(label, value)
    return table
