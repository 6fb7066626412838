"""``lrkit train-lm``: train a small language model from scratch on real text, in low rank."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from lrkit.cli.console import (
    RegistryChoices,
    add_seed,
    add_verb,
    check_plot_path,
    console,
    positive_float_arg,
    positive_int_arg,
    task_progress,
)
from lrkit.cli.nn_inputs import read_corpus

#: The training methods (:data:`lrkit.nn.training.lm_methods.TRAIN_LM_METHODS`), loaded when
#: first read.
METHODS = RegistryChoices("lrkit.nn.training.lm_methods", "TRAIN_LM_METHODS")


def register(sub):
    parser = add_verb(sub, "train-lm",
                      "train a small character-level transformer on Shakespeare's plays (or "
                      "your text) with low-rank methods, side by side", extra="nn")
    parser.add_argument("--text", metavar="FILE",
                        help="train on this text instead of Shakespeare: UTF-8 text, or the "
                        "'text' field of a .jsonl file or column of a .csv file")
    parser.add_argument("--method", nargs="+", metavar="METHOD",
                        choices=RegistryChoices(METHODS.module, METHODS.attribute, ["all"]),
                        default=["full", "galore", "dct"],
                        help="methods to compare: %(choices)s")
    parser.add_argument("--rank", type=positive_int_arg, default=32,
                        help="rank of the projections and low-rank layers")
    parser.add_argument("--steps", type=positive_int_arg, default=300, help="training steps")
    parser.add_argument("--batch-size", type=positive_int_arg, default=16,
                        help="windows per step")
    parser.add_argument("--context", type=positive_int_arg, default=128,
                        help="characters per window")
    parser.add_argument("--width", type=positive_int_arg, default=192, help="model width")
    parser.add_argument("--depth", type=positive_int_arg, default=4, help="transformer blocks")
    parser.add_argument("--heads", type=positive_int_arg, default=4,
                        help="attention heads (a divisor of --width)")
    parser.add_argument("--lr", type=positive_float_arg, default=None,
                        help="learning rate (default: the method's, lrkit.nn.training.lm_methods)")
    parser.add_argument("--iteration", type=positive_int_arg, default=None, metavar="STEPS",
                        help="steps between SST's draws of active singular vectors and "
                             "between ReLoRA*'s merges (default: "
                             "lrkit.nn.training.lm_methods.SST_ITERATION, 200)")
    add_seed(parser)
    parser.add_argument("--plot", metavar="OUT.png", help="save the training-loss curves")
    parser.set_defaults(func=run)


def run(args):
    import lrkit.nn as lnn

    lnn.require_torch()
    if args.plot:
        check_plot_path(args.plot)
    if args.width % args.heads:
        raise ValueError(f"--width {args.width} must be a multiple of --heads {args.heads}")
    from lrkit.nn.training.gradient_projection import optimizer_state_bytes
    from lrkit.nn.training.lm_methods import build_run
    from lrkit.nn.workloads.datasets import shakespeare
    from lrkit.nn.workloads.language_model import CharCorpus, pretrain

    text = shakespeare() if args.text is None else read_corpus(args.text)
    least = 21 * (args.context + 1)  # the held-out 5 % must hold a window
    if len(text) < least:
        raise ValueError(f"--text {args.text} has {len(text):,} characters: too few for "
                         f"windows of --context {args.context} (at least {least:,}, 5 % of "
                         "them held out)")
    corpus = CharCorpus(text)
    methods = tuple(METHODS) if "all" in args.method else tuple(dict.fromkeys(args.method))
    table = Table(title=f"lrkit train-lm: {args.steps} steps of {args.batch_size} × "
                        f"{args.context} characters, rank {args.rank}")
    for column in ("method", "trainable params", "optimizer state (MB)",
                   "validation perplexity", "s / step"):
        table.add_column(column, justify="left" if column == "method" else "right")
    curves = {}
    with task_progress() as progress:
        for method in methods:
            run_ = build_run(method, corpus.vocab_size, args.rank, lr=args.lr, seed=args.seed,
                             context=args.context, width=args.width, depth=args.depth,
                             heads=args.heads, iteration=args.iteration)
            task = progress.add_task(method, total=args.steps)
            history = pretrain(run_.model, corpus, run_.optimizer, args.steps,
                               batch_size=args.batch_size, seed=args.seed,
                               step_callback=run_.step_callback,
                               progress=lambda step, loss, task=task: progress.update(
                                   task, completed=step))
            progress.remove_task(task)
            curves[method] = history.losses
            table.add_row(method, f"{run_.trainable:,}",
                          f"{optimizer_state_bytes(run_.optimizer) / 1e6:.2f}",
                          f"{history.perplexity:.2f}", f"{history.seconds_per_step:.3f}")
    console.print(table)
    if args.plot:
        from lrkit.plotting import plot_training_curves

        title = "Shakespeare" if args.text is None else Path(args.text).name
        plot_training_curves(curves, args.plot, title=f"{title}, character level")
        console.print(f"plot saved to {args.plot}")
    return 0
