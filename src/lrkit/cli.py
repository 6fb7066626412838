"""The ``lrkit`` command line.

Exit codes: 0 success, 1 invalid input or a failed run (message on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import lrkit
from lrkit.recover import COMPLETION_METHODS, METHODS, SENSING_METHODS

console = Console(width=None if sys.stdout.isatty() else 120)


def stop_reason(result):
    """A one-word summary of why a solver stopped, for tables."""
    for key, label in (("diverged", "diverged"), ("max_iter", "max_iter"),
                       ("stagnated", "stagnated"), ("callback", "callback")):
        if key in result.message:
            return label
    return "converged"


def _progress():
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} it"),
        TextColumn("err {task.fields[error]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def run_with_progress(progress, description, prob, rank, **kwargs):
    """``lrkit.recover`` with a progress bar fed by the solver's callback."""
    task = progress.add_task(description, total=kwargs.get("max_iter", 3000), error="-")

    def callback(info):
        if info.iteration % 25 == 0:
            progress.update(task, completed=info.iteration, error=f"{info.rel_error:.1e}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        result = lrkit.recover(
            prob.operator, prob.y, rank, truth=prob.truth, callback=callback, **kwargs
        )
    progress.remove_task(task)
    return result


def results_table(rows, title):
    table = Table(title=title)
    for column in ("problem", "method", "rank", "iterations", "rel. error", "time (s)", "stop"):
        left = column in ("problem", "method", "stop")
        table.add_column(column, justify="left" if left else "right")
    for problem, method, rank, res in rows:
        style = None if res.converged else "yellow"
        table.add_row(
            problem, method, str(rank), str(res.n_iter), f"{res.rel_error:.2e}",
            f"{res.wall_time:.2f}", stop_reason(res), style=style,
        )
    return table


def cmd_recover(args):
    if args.problem == "completion":
        prob = lrkit.problems.completion(args.n1, args.n2, args.rank, m=args.m, cond=args.cond,
                                         noise_std=args.noise_std, seed=args.seed)
    else:
        prob = lrkit.problems.sensing(
            n1=args.n1, n2=args.n2, rank=args.rank, m=args.m, symmetric=args.symmetric,
            cond=args.cond, noise_std=args.noise_std, outlier_frac=args.outlier_frac,
            design=args.design, seed=args.seed,
        )
    fit_rank = args.fit_rank or args.rank
    with _progress() as progress:
        res = run_with_progress(
            progress, args.method, prob, fit_rank, method=args.method,
            parameterization="symmetric" if args.symmetric else "asymmetric",
            init=args.init, init_scale=args.init_scale, max_iter=args.max_iter, tol=args.tol,
            seed=args.seed,
        )
    row = (repr(prob.operator), args.method, fit_rank, res)
    console.print(results_table([row], "lrkit recover"))
    console.print(res.message)
    if args.plot:
        from lrkit.plotting import plot_convergence

        plot_convergence({repr(prob.operator): {args.method: res}}, args.plot)
        console.print(f"convergence plot saved to {args.plot}")
    return 0


def demo_problems(seed):
    """The demo's four built-in problems: (name, problem, fitted rank)."""
    sensing = lrkit.problems.sensing
    return [
        ("exact rank, 40x30 r=2", sensing(40, 30, 2, 900, seed=seed), 2),
        ("over-parameterised k=4, r=2", sensing(40, 30, 2, 900, seed=seed), 4),
        ("ill-conditioned cond=100, r=3", sensing(40, 30, 3, 1500, cond=100.0, seed=seed), 3),
        ("20% outliers, r=2, k=4", sensing(40, 30, 2, 1500, outlier_frac=0.2, seed=seed), 4),
    ]


def cmd_demo(args):
    rows, panels = [], {}
    with _progress() as progress:
        for name, prob, rank in demo_problems(args.seed):
            panels[name] = {}
            for method in SENSING_METHODS:
                res = run_with_progress(
                    progress, f"{name}: {method}", prob, rank, method=method,
                    max_iter=args.max_iter, seed=args.seed,
                )
                rows.append((name, method, rank, res))
                panels[name][method] = res
    console.print(results_table(rows, "lrkit demo: matrix sensing, four methods"))
    if args.plot:
        from lrkit.plotting import plot_convergence

        plot_convergence(panels, args.plot, title="lrkit demo: relative error per iteration")
        console.print(f"convergence plot saved to {args.plot}")
    return 0


def read_arrays(path, suffixes):
    """``{name: array}`` from a .npy (named by the file), .npz, .csv (empty cell = NaN) or
    .safetensors file whose suffix is in ``suffixes``."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"input file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ValueError(f"unsupported input {path.suffix!r}: use {', '.join(suffixes)}")
    if suffix == ".npy":
        return {path.stem: np.load(path, allow_pickle=False)}
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    if suffix == ".csv":
        return {path.stem: np.genfromtxt(path, delimiter=",", dtype=np.float64)}
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise ValueError("reading .safetensors needs the safetensors package") from None
    return load_file(str(path))


def load_matrix(path, key=None):
    """A 2-d float array from .npy, .npz (``key`` or the only array) or .csv (empty = NaN)."""
    arrays = read_arrays(path, (".npy", ".npz", ".csv"))
    if key is None and len(arrays) != 1:
        raise ValueError(f"{path} holds arrays {list(arrays)}; choose one with --key")
    if key is not None and key not in arrays:
        raise ValueError(f"{path} has no array {key!r}; it holds {list(arrays)}")
    data = np.asarray(arrays[key] if key is not None else next(iter(arrays.values())),
                      dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"input must be a 2-d matrix; {path} holds shape {data.shape}")
    return data


def check_output(path, several):
    """Refuse an output name we cannot write before any work is done."""
    allowed = (".npz",) if several else (".npz", ".npy", ".csv")
    if Path(path).suffix.lower() not in allowed:
        raise ValueError(f"output {path} must end in {' or '.join(allowed)}")


def save_arrays(path, **arrays):
    """Write one array (.npy/.csv) or several (.npz) to ``path``."""
    path = Path(path)
    check_output(path, len(arrays) > 1)
    if path.suffix.lower() == ".npz":
        np.savez_compressed(path, **arrays)
    elif path.suffix.lower() == ".npy":
        np.save(path, next(iter(arrays.values())))
    else:
        np.savetxt(path, next(iter(arrays.values())), delimiter=",")


def _summary(title, rows):
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    return table


def cmd_complete(args):
    check_output(args.output, several=False)
    X = load_matrix(args.input, args.key)
    rank = "auto" if args.rank == "auto" else _positive_int(args.rank, "--rank")
    model = lrkit.MatrixCompletion(rank=rank, method=args.method, ridge=args.ridge,
                                   center=args.center, fill_empty=args.fill_empty,
                                   max_iter=args.max_iter, seed=args.seed)
    with console.status(f"completing a {X.shape[0]}x{X.shape[1]} matrix ({args.method})"):
        filled = model.fit_transform(X)
    observed = ~np.isnan(X)
    fitted = model.row_factors_ @ model.components_.T + model.mean_
    rmse = float(np.sqrt(np.mean((fitted[observed] - X[observed]) ** 2)))
    save_arrays(args.output, completed=filled)
    console.print(_summary("lrkit complete", [
        ("shape", f"{X.shape[0]} x {X.shape[1]}"),
        ("observed", f"{observed.mean():.1%}"),
        ("rank", str(model.rank_)),
        ("iterations", str(model.result_.n_iter)),
        ("RMSE on observed entries", f"{rmse:.4g}"),
        ("time (s)", f"{model.result_.wall_time:.2f}"),
        ("stop", stop_reason(model.result_)),
        ("written", str(args.output)),
    ]))
    return 0


def cmd_rpca(args):
    check_output(args.output, several=True)
    M = load_matrix(args.input, args.key)
    mask = ~np.isnan(M)
    rank = None if args.rank is None else _positive_int(args.rank, "--rank")
    with console.status(f"robust PCA of a {M.shape[0]}x{M.shape[1]} matrix ({args.method})"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
            dec = lrkit.rpca(M, method=args.method, rank=rank, lam=args.lam,
                             mask=None if mask.all() else mask, tol=args.tol,
                             max_iter=args.max_iter, seed=args.seed)
    save_arrays(args.output, low_rank=dec.low_rank, sparse=dec.sparse)
    console.print(_summary("lrkit rpca", [
        ("shape", f"{M.shape[0]} x {M.shape[1]}"),
        ("observed", f"{mask.mean():.1%}"),
        ("rank of L", str(dec.factors[0].shape[1])),
        ("nonzeros of S", f"{np.count_nonzero(dec.sparse) / dec.sparse.size:.2%}"),
        ("iterations", str(dec.n_iter)),
        ("time (s)", f"{dec.wall_time:.2f}"),
        ("stop", stop_reason(dec)),
        ("written", str(args.output)),
    ]))
    return 0 if dec.converged else 1


def load_matrices(path):
    """``{name: 2-d array}`` from .npy (one array), .npz or .safetensors (all arrays).

    Arrays with more than two dimensions are read as ``(shape[0], -1)`` (convolution kernels
    per output channel); 0-d and 1-d arrays (biases, norms) are skipped.
    """
    arrays = read_arrays(path, (".npy", ".npz", ".safetensors"))
    matrices = {name: np.asarray(a, dtype=np.float64).reshape(a.shape[0], -1)
                for name, a in arrays.items() if a.ndim >= 2}
    if not matrices:
        raise ValueError(f"{path} holds no array with two or more dimensions")
    return matrices


def cmd_spectrum(args):
    if args.plot:
        check_plot_path(args.plot)
    matrices = load_matrices(args.input)
    if args.match:
        matrices = {k: v for k, v in matrices.items() if args.match in k}
        if not matrices:
            raise ValueError(f"no matrix name contains {args.match!r}")
    reports = {}
    with _progress() as progress:
        task = progress.add_task("spectra", total=len(matrices), error="-")
        for name, W in matrices.items():
            if min(W.shape) >= 12:
                reports[name] = lrkit.spectral.analyze(W, xmin_rule=args.xmin_rule)
            progress.update(task, advance=1)
    table = Table(title=f"lrkit spectrum: {args.input}")
    columns = ("matrix", "shape", "alpha", "FARMS alpha", "stable rank", "eff. rank",
               "entropy", "MP outliers")
    for column in columns:
        table.add_column(column, justify="left" if column == "matrix" else "right")
    for name, r in reports.items():
        table.add_row(name, f"{r.shape[0]}x{r.shape[1]}", f"{r.alpha:.2f}",
                      f"{r.farms_alpha:.2f}", f"{r.stable_rank:.1f}",
                      f"{r.effective_rank:.1f}", f"{r.entropy:.3f}", str(r.n_outliers))
    console.print(table)
    skipped = len(matrices) - len(reports)
    if skipped:
        console.print(f"{skipped} matrix(es) with a side below 12 skipped")
    if args.plot:
        from lrkit.plotting import plot_esd

        shown = dict(list(reports.items())[: args.max_plots])
        plot_esd(shown, args.plot, title=str(args.input))
        console.print(f"ESD plot of {len(shown)} matrix(es) saved to {args.plot}")
    return 0


def _load_model(name):
    from lrkit.nn import models

    if name == "minilm":
        return models.load_minilm()
    if not Path(name).is_dir():
        raise ValueError(f"MODEL must be 'minilm' or a Hugging Face model folder; got {name!r}")
    return models.load_pretrained(name)


def _read_sentences(path, count, split):
    from lrkit.nn import models

    if path is None:
        return models.stdlib_sentences(count, split)
    if not Path(path).exists():
        raise ValueError(f"text file {path} does not exist")
    lines = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"text file {path} has no non-empty line")
    return lines[:count]


def cmd_compress(args):
    import lrkit.nn as lnn
    from lrkit.nn import models

    if args.plot:
        check_plot_path(args.plot)
    if args.output and Path(args.output).suffix != ".safetensors":
        raise ValueError(f"output {args.output} must end in .safetensors")
    import torch

    torch.manual_seed(args.seed)
    model, tokenizer = _load_model(args.model)
    calibration = models.text_batches(tokenizer, _read_sentences(args.calib, args.n_calib,
                                                                 "calibration"))
    evaluation = models.text_batches(tokenizer, _read_sentences(args.eval, args.n_eval,
                                                                "evaluation"))
    if args.sweep:
        return _compress_sweep(args, model, calibration, evaluation)
    if not 0 < args.ratio < 1:
        raise ValueError(f"--ratio must be in (0, 1); got {args.ratio}")
    layers = lnn.linear_layers(model)
    with _progress() as progress:
        task = progress.add_task("compressing layers", total=len(layers), error="-")
        small, report = lnn.compress(
            model, args.ratio, args.method, calibration=calibration,
            allocation=args.allocation, eora=args.eora,
            loss_fn=models.contrastive_loss if args.method == "fwsvd" else None,
            progress=lambda name: progress.update(task, advance=1))
    console.print(report.table())
    similarity = models.embedding_similarity(model, small, evaluation)
    console.print(f"cosine similarity of embeddings to the original on {args.n_eval} held-out "
                  f"sentences: {similarity:.4f}")
    if args.output:
        lnn.save(small, args.output)
        console.print(f"compressed weights written to {args.output} "
                      f"({Path(args.output).stat().st_size / 2**20:.1f} MiB)")
    return 0


def _compress_sweep(args, model, calibration, evaluation):
    from lrkit.nn import quality_sweep

    try:
        ratios = [float(r) for r in args.sweep.split(",")]
    except ValueError:
        raise ValueError(f"--sweep takes ratios like 0.1,0.3,0.5; got {args.sweep!r}") from None
    if not all(0 < r < 1 for r in ratios):
        raise ValueError(f"every --sweep ratio must be in (0, 1); got {ratios}")
    methods = lrkit_methods()
    with _progress() as progress:
        task = progress.add_task("sweep", total=len(ratios) * len(methods), error="-")
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


def lrkit_methods():
    from lrkit.nn import METHODS as NN_METHODS

    return list(NN_METHODS)


def check_plot_path(path):
    if Path(path).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"plot file {path} must end in .png, .pdf or .svg")


def _positive_int(text, name):
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer or 'auto'; got {text!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return value


def _add_io(parser):
    parser.add_argument("input", help="matrix as .npy, .npz or .csv (NaN / empty = missing)")
    parser.add_argument("-o", "--output", required=True,
                        help="output file (.npz, or .npy/.csv for one array)")
    parser.add_argument("--key", help="array name inside an .npz input")
    parser.add_argument("--max-iter", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)


def build_parser():
    parser = argparse.ArgumentParser(prog="lrkit", description="Low-rank matrix methods.")
    parser.add_argument("--version", action="version", version=f"lrkit {lrkit.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    rec = sub.add_parser("recover", help="recover a low-rank matrix from a generated problem")
    rec.add_argument("--problem", choices=["sensing", "completion"], default="sensing")
    rec.add_argument("--n1", type=int, default=40)
    rec.add_argument("--n2", type=int, default=30)
    rec.add_argument("--rank", type=int, default=2, help="rank of the truth")
    rec.add_argument(
        "--fit-rank", type=int, default=None, help="rank of the factors (default: --rank)"
    )
    rec.add_argument("--m", type=int, default=900, help="number of measurements")
    rec.add_argument("--method", choices=list(METHODS), default="gd")
    rec.add_argument("--symmetric", action="store_true", help="PSD truth, X Xᵀ parameterisation")
    rec.add_argument("--design", choices=["gaussian", "rank_one"], default="gaussian")
    rec.add_argument("--cond", type=float, default=1.0)
    rec.add_argument("--noise-std", type=float, default=0.0)
    rec.add_argument("--outlier-frac", type=float, default=0.0)
    rec.add_argument("--init", choices=["small", "spectral"], default="small")
    rec.add_argument("--init-scale", type=float, default=None)
    rec.add_argument("--max-iter", type=int, default=3000)
    rec.add_argument("--tol", type=float, default=1e-10)
    rec.add_argument("--seed", type=int, default=0)
    rec.add_argument("--plot", metavar="OUT.png", help="save the error-vs-iteration curve")
    rec.set_defaults(func=cmd_recover)

    comp = sub.add_parser("complete", help="fill the missing (NaN) entries of a matrix file")
    _add_io(comp)
    comp.add_argument("--rank", default="auto", help="rank of the model, or 'auto'")
    comp.add_argument("--method", choices=list(COMPLETION_METHODS), default="altmin")
    comp.add_argument("--ridge", type=float, default=0.0)
    comp.add_argument("--center", action="store_true", help="remove column means first")
    comp.add_argument("--fill-empty", choices=["error", "mean"], default="error",
                      help="all-NaN rows/columns: refuse, or fill with column means")
    comp.set_defaults(func=cmd_complete)

    rob = sub.add_parser("rpca", help="split a matrix file into low-rank plus sparse")
    _add_io(rob)
    rob.add_argument("--method", choices=["pcp", "altproj"], default="pcp")
    rob.add_argument("--rank", default=None, help="rank of L (needed by altproj)")
    rob.add_argument("--lam", type=float, default=None, help="ℓ1 weight of pcp")
    rob.add_argument("--tol", type=float, default=1e-7)
    rob.set_defaults(func=cmd_rpca)

    spec = sub.add_parser("spectrum", help="spectral diagnostics of every matrix in a file")
    spec.add_argument("input", help=".npy, .npz or .safetensors file of matrices")
    spec.add_argument("--match", help="only matrices whose name contains this text")
    spec.add_argument("--plot", metavar="OUT.png", help="draw ESDs with power-law and MP fits")
    spec.add_argument("--max-plots", type=int, default=12)
    spec.add_argument("--xmin-rule", choices=["ks", "peak", "median"], default="ks",
                      help="power-law tail start: KS search (WeightWatcher's rule), near the "
                      "histogram peak, or the median eigenvalue")
    spec.set_defaults(func=cmd_spectrum)

    comp_nn = sub.add_parser("compress", help="compress a pretrained network with low-rank "
                             "factors (needs lrkit[torch] and transformers)")
    comp_nn.add_argument("model", help="'minilm' (the packaged all-MiniLM-L6-v2) or a model folder")
    comp_nn.add_argument("--ratio", type=float, default=0.3,
                         help="fraction of the attention/MLP parameters to remove")
    comp_nn.add_argument("--method", choices=["svd", "fwsvd", "asvd", "whiten"],
                         default="whiten")
    comp_nn.add_argument("--allocation", choices=["uniform", "energy", "welore"],
                         default="uniform")
    comp_nn.add_argument("--eora", action="store_true", help="add EoRA compensation")
    comp_nn.add_argument("--calib", metavar="TEXTFILE",
                         help="calibration sentences, one per line (default: stdlib docstrings)")
    comp_nn.add_argument("--eval", metavar="TEXTFILE", help="held-out evaluation sentences")
    comp_nn.add_argument("--n-calib", type=int, default=256)
    comp_nn.add_argument("--n-eval", type=int, default=256)
    comp_nn.add_argument("--sweep", metavar="R1,R2,...",
                         help="compare all methods at these ratios instead of compressing once")
    comp_nn.add_argument("--plot", metavar="OUT.png", help="with --sweep: quality-vs-ratio plot")
    comp_nn.add_argument("-o", "--output", metavar="OUT.safetensors")
    comp_nn.add_argument("--seed", type=int, default=0)
    comp_nn.set_defaults(func=cmd_compress)

    demo = sub.add_parser("demo", help="all recovery methods on the built-in problems")
    demo.add_argument("--max-iter", type=int, default=3000)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--plot", metavar="OUT.png", default="lrkit_demo.png")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}", highlight=False)
        print(f"lrkit: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
