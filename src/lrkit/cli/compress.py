"""``lrkit compress``: compress a pretrained network with low-rank factors."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from lrkit._progress import stage_reporter
from lrkit.cli.console import (
    add_seed,
    add_verb,
    check_plot_path,
    console,
    fraction_arg,
    positive_int_arg,
    task_progress,
)
from lrkit.cli.nn_inputs import load_model, read_sentences
from lrkit.io import check_writable
from lrkit.nn.compression.allocation import ALLOCATIONS
from lrkit.nn.compression.methods import METHODS


def register(sub):
    parser = add_verb(sub, "compress",
                      "compress a pretrained network with low-rank factors", extra="nn")
    parser.add_argument("model", help="'minilm' (the packaged all-MiniLM-L6-v2) or a model folder")
    parser.add_argument("--ratio", type=fraction_arg, default=None,
                        help="fraction of the attention/MLP parameters to remove (default "
                             "0.3; none with --allocation rmt, which picks every rank)")
    parser.add_argument("--method", choices=["auto", "modegpt", *METHODS], default="auto",
                        help="factorisation (lrkit.nn.METHODS), 'modegpt' (MLP neurons by "
                             "Nystrom, attention heads narrowed), or 'auto': the best "
                             "measured recipe")
    parser.add_argument("--allocation", choices=list(ALLOCATIONS), default=None,
                        help="how one parameter budget is spread over the layers (default: "
                             "'sensitivity' with --method auto, 'uniform' otherwise)")
    parser.add_argument("--refit", action="store_true",
                        help="refit each layer in closed form, layer after layer, against "
                             "the original outputs (SVD-LLM's update)")
    parser.add_argument("--eora", action="store_true", help="add EoRA compensation")
    parser.add_argument("--embeddings", action="store_true",
                        help="with --method features: also compress the token embedding "
                             "table by its frequency-weighted output features")
    parser.add_argument("--calib", metavar="TEXTFILE",
                        help="calibration sentences, one per line (default: stdlib docstrings)")
    parser.add_argument("--eval", metavar="TEXTFILE", help="held-out evaluation sentences")
    parser.add_argument("--n-calib", type=positive_int_arg, default=256,
                        help="number of calibration sentences")
    parser.add_argument("--n-eval", type=positive_int_arg, default=256,
                        help="number of evaluation sentences")
    parser.add_argument("--sweep", metavar="R1,R2,...",
                        help="compare all methods at these ratios instead of compressing once")
    parser.add_argument("--plot", metavar="OUT.png", help="with --sweep: quality-vs-ratio plot")
    parser.add_argument("-o", "--output", metavar="OUT.safetensors",
                        help="write the compressed weights here (never over an input)")
    add_seed(parser)
    parser.set_defaults(func=run)


#: ``--ratio`` when it is not given (and the allocation needs one).
DEFAULT_RATIO = 0.3


def run(args):
    import lrkit.nn as lnn

    lnn.require_torch()
    if args.embeddings and args.method != "features":
        raise ValueError("--embeddings compresses the token table by its output features; "
                         "add --method features")
    if args.allocation == "rmt" and args.ratio is not None:
        raise ValueError("--allocation rmt picks every rank from the Marchenko–Pastur edge of "
                         "the layer inputs; drop --ratio")
    if args.ratio is None and args.allocation != "rmt":
        args.ratio = DEFAULT_RATIO
    if args.plot and not args.sweep:
        raise ValueError("--plot draws the quality-vs-ratio curve of --sweep; add --sweep "
                         "R1,R2,... or drop --plot")
    inputs = [p for p in (args.model, args.calib, args.eval) if p and Path(p).exists()]
    if args.plot:
        check_plot_path(args.plot, inputs)
    if args.output:
        check_writable(args.output, (".safetensors",), inputs, what="-o")
    import torch

    from lrkit.nn.workloads import datasets

    torch.manual_seed(args.seed)
    model, tokenizer = load_model(args.model)
    calibration = datasets.text_batches(tokenizer, read_sentences(args.calib, args.n_calib,
                                                                   "calibration"))
    evaluation = datasets.text_batches(tokenizer, read_sentences(args.eval, args.n_eval,
                                                                  "evaluation"))
    if args.sweep:
        return _sweep(args, model, calibration, evaluation)
    layers = None
    if args.embeddings:
        table = model.get_input_embeddings()
        layers = [*(n for n, m in model.named_modules() if m is table), *lnn.linear_layers(model)]
    with task_progress() as progress:
        small, report = lnn.compress(
            model, args.ratio, args.method, calibration=calibration, layers=layers,
            allocation=args.allocation, refit=args.refit, eora=args.eora,
            loss_fn=lnn.contrastive_loss,
            progress=stage_reporter(progress))
    console.print(report_table(report))
    similarity = lnn.embedding_similarity(model, small, evaluation)
    console.print(f"cosine similarity of embeddings to the original on {args.n_eval} held-out "
                  f"sentences: {similarity:.4f}")
    if args.output:
        lnn.save(small, args.output)
        console.print(f"compressed weights written to {args.output} "
                      f"({Path(args.output).stat().st_size / 2**20:.1f} MiB)")
    else:
        console.print("the compressed model was not saved: add -o OUT.safetensors to keep it")
    return 0


def report_table(report):
    """A rich table of a :class:`~lrkit.nn.CompressionReport`."""
    from lrkit.nn.compression.report import COLUMNS

    table = Table(title=report.title)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "layer" else "right")
    for row in report.rows():
        table.add_row(*row)
    return table


def _sweep(args, model, calibration, evaluation):
    from lrkit.nn import quality_sweep

    try:
        ratios = [float(r) for r in args.sweep.split(",")]
    except ValueError:
        raise ValueError(f"--sweep takes ratios like 0.1,0.3,0.5; got {args.sweep!r}") from None
    if not all(0 < r < 1 for r in ratios):
        raise ValueError(f"every --sweep ratio must be in (0, 1); got {ratios}")
    with task_progress() as progress:
        methods = ("auto", "modegpt", *METHODS)
        task = progress.add_task("sweep", total=len(ratios) * len(methods))
        points = quality_sweep(model, calibration, evaluation, ratios, methods,
                               allocation=args.allocation,
                               progress=lambda p: progress.update(task, advance=1))
    table = Table(title="lrkit compress --sweep: cosine similarity to the original embeddings")
    table.add_column("method")
    for ratio in ratios:
        table.add_column(f"{ratio:g}", justify="right")
    for method in methods:
        table.add_row(method, *(f"{p.similarity:.3f}" for p in points if p.method == method))
    console.print(table)
    if args.plot:
        from lrkit.plotting import plot_quality_sweep

        plot_quality_sweep(points, args.plot, title=f"{args.model}: quality vs ratio")
        console.print(f"plot saved to {args.plot}")
    return 0
