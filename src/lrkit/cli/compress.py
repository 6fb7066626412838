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
from lrkit.cli.nn_inputs import check_text_source, load_model, read_sentences
from lrkit.io import check_writable
from lrkit.nn.compression.allocation import ALLOCATIONS
from lrkit.nn.compression.methods import METHODS
from lrkit.nn.model_folder import check_folder_output


def register(sub):
    parser = add_verb(sub, "compress",
                      "compress a pretrained network with low-rank factors", extra="nn")
    parser.add_argument("model", help="'minilm' (the packaged all-MiniLM-L6-v2) or a "
                                      "Hugging Face model folder (any family: LLaMA, Qwen2, "
                                      "Mistral, GPT-2, OPT, BERT, ...)")
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
    parser.add_argument("--calib", metavar="FILE",
                        help="calibration text: a text file (a passage a line), the "
                             "--field of a .jsonl / .csv file, or a packaged corpus: "
                             "docstrings (the default: standard-library docstrings), "
                             "rotten-tomatoes, shakespeare")
    parser.add_argument("--eval", metavar="FILE", help="held-out evaluation text (as --calib)")
    parser.add_argument("--field", default="text",
                        help="the field of --calib/--eval .jsonl or .csv records (default: "
                             "text)")
    parser.add_argument("--n-calib", type=positive_int_arg, default=None,
                        help="calibration sentences (default 256), or for a causal language "
                             "model windows of --window tokens (default 32)")
    parser.add_argument("--n-eval", type=positive_int_arg, default=None,
                        help="evaluation sentences (default 256) or windows (default 16)")
    parser.add_argument("--window", type=positive_int_arg, default=256,
                        help="tokens per window for a causal language model (default 256)")
    parser.add_argument("--sweep", metavar="R1,R2,...",
                        help="compare all methods at these ratios instead of compressing once")
    parser.add_argument("--plot", metavar="OUT.png", help="with --sweep: quality-vs-ratio plot")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="a folder: the compressed model with its tokenizer, opened by "
                             "lrkit.nn.load(OUT) alone; or OUT.safetensors: the weights, "
                             "loaded into the original (never over an input)")
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
    check_text_source(args.calib, "--calib", args.field)
    check_text_source(args.eval, "--eval", args.field)
    inputs = [p for p in (args.model, args.calib, args.eval) if p and Path(p).exists()]
    if args.plot:
        check_plot_path(args.plot, inputs)
    if args.output and args.output.lower().endswith(".safetensors"):
        check_writable(args.output, (".safetensors",), inputs, what="-o")
    elif args.output:
        check_folder_output(args.output, inputs, what="-o")
    import torch

    torch.manual_seed(args.seed)
    model, tokenizer = load_model(args.model)
    causal = _is_causal(model)
    if causal and args.sweep:
        raise ValueError("--sweep compares sentence embeddings of encoders; for a causal "
                         "language model run compress once per --ratio")
    positions = (getattr(model.config, "max_position_embeddings", None)
                 or getattr(model.config, "n_positions", None))
    if causal and positions and args.window > positions:
        raise ValueError(f"--window {args.window} is longer than the model's {positions} "
                         f"positions; pass --window {positions} or less")
    calibration, evaluation = _inputs(args, tokenizer, causal)
    if args.sweep:
        return _sweep(args, model.base_model, calibration, evaluation)
    layers = None
    if args.embeddings:
        table = model.get_input_embeddings()
        layers = [*(n for n, m in model.named_modules() if m is table), *lnn.linear_layers(model)]
    with task_progress() as progress:
        small, report = lnn.compress(
            model, args.ratio, args.method, calibration=calibration, layers=layers,
            allocation=args.allocation, refit=args.refit, eora=args.eora,
            loss_fn=lnn.next_token_loss if causal else _encoder_loss,
            progress=stage_reporter(progress))
    console.print(report_table(report))
    if causal:
        console.print(f"perplexity on {len(evaluation)} held-out windows of {args.window} "
                      f"tokens: {lnn.causal_perplexity(model, evaluation):.2f} -> "
                      f"{lnn.causal_perplexity(small, evaluation):.2f}")
    else:
        similarity = lnn.embedding_similarity(model.base_model, small.base_model, evaluation)
        sentences = sum(len(batch["input_ids"]) for batch in evaluation)
        console.print(f"cosine similarity of embeddings to the original on {sentences} "
                      f"held-out sentences: {similarity:.4f}")
    if args.output:
        _save(small, tokenizer, args.output)
    else:
        console.print("the compressed model was not saved: add -o OUT_FOLDER to keep it")
    return 0


def _is_causal(model):
    """Whether ``model`` is a language model that generates (a decoder with its head)."""
    can_generate = getattr(model, "can_generate", None)
    return bool(can_generate and can_generate())


def _encoder_loss(model, batch):
    from lrkit.nn import contrastive_loss

    return contrastive_loss(model.base_model, batch)


def _inputs(args, tokenizer, causal):
    """The calibration and evaluation batches: token windows for a causal language model,
    tokenised sentences for an encoder."""
    from lrkit.nn.workloads import datasets

    if causal:
        calib = read_sentences(args.calib, None, "calibration", field=args.field)
        held = read_sentences(args.eval, None, "evaluation", "--eval", args.field)
        return (datasets.token_windows(tokenizer, calib, args.n_calib or 32, args.window),
                datasets.token_windows(tokenizer, held, args.n_eval or 16, args.window))
    calib = read_sentences(args.calib, args.n_calib or 256, "calibration", field=args.field)
    held = read_sentences(args.eval, args.n_eval or 256, "evaluation", "--eval", args.field)
    return datasets.text_batches(tokenizer, calib), datasets.text_batches(tokenizer, held)


def _save(model, tokenizer, output):
    import lrkit.nn as lnn

    if output.lower().endswith(".safetensors"):
        lnn.save(model, output)
        size = Path(output).stat().st_size
        console.print(f"compressed weights written to {output} ({size / 2**20:.1f} MiB)")
        return
    lnn.save(model, output, tokenizer=tokenizer)
    size = sum(f.stat().st_size for f in Path(output).iterdir() if f.is_file())
    console.print(f"compressed model written to {output}/ ({size / 2**20:.1f} MiB); open it "
                  f"with lrkit.nn.load({str(output)!r})")


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
