"""Out-of-core ratings: lrkit's MatrixCompletion on Dask against Spark MLlib ALS.

Synthetic ratings (a rank-20 truth plus noise) are written to Parquet in row blocks; both
engines read them from disk. Each engine runs in its own process, whose peak resident memory
is its ``wait4`` usage (Spark's JVM's is read from ``/proc``); lrkit's process runs under a
memory cap below the ratings' size (a cgroup, where the machine allows one). Each engine's
measurements are kept in ``bench/results/scaleout`` (see :mod:`trials`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

USERS, ITEMS, RANK = 100_000, 10_000, 20
RATINGS = 100_000_000
#: Ratings per Parquet file (one Dask partition each).
PER_FILE = 1_000_000
SWEEPS = 10
RIDGE = 0.05
#: lrkit's process runs in a cgroup capped here, below the size of the ratings as the fit
#: reads them (24 bytes each as int64, int64, float64: 2.4 GB at 10⁸).
MEMORY_LIMIT = 2 * 2**30
SPARK_HEAP = "8g"


def write_ratings(directory, n_ratings=RATINGS, per_file=PER_FILE, seed=0):
    """``n_ratings`` (user, item, rating) triplets of a rank-20 model plus noise of
    deviation 0.5, as Parquet files of ``per_file`` ratings (train) and a 1 % held-out NumPy
    file (test)."""
    import pandas as pd

    blocks = max(1, n_ratings // per_file)
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((USERS, RANK)) / RANK**0.25
    V = rng.standard_normal((ITEMS, RANK)) / RANK**0.25
    os.makedirs(f"{directory}/train", exist_ok=True)
    tests = []
    for block in range(blocks):
        size = n_ratings // blocks
        users = rng.integers(0, USERS, size)
        items = rng.integers(0, ITEMS, size)
        ratings = (np.einsum("ek,ek->e", U[users], V[items]) + 0.5 * rng.standard_normal(size))
        test = rng.random(size) < 0.01
        tests.append(np.stack([users[test], items[test], ratings[test]]))
        frame = pd.DataFrame({"user": users[~test].astype(np.int32),
                              "item": items[~test].astype(np.int32),
                              "rating": ratings[~test].astype(np.float32)})
        frame.to_parquet(f"{directory}/train/part-{block:03d}.parquet", index=False)
    np.save(f"{directory}/test.npy", np.hstack(tests))


LRKIT = """
import sys, time, warnings, numpy as np, dask, dask.dataframe as dd
import lrkit
dask.config.set(scheduler="threads", num_workers=2)
directory = sys.argv[1]
frame = dd.read_parquet(directory + "/train").astype({"user": "int64", "item": "int64",
                                                     "rating": "float64"})
# lrkit's ridge is in units of the ratings' standard deviation, Spark's in their own units.
deviation = float(frame["rating"].std().compute())
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = lrkit.MatrixCompletion(rank=%d, ridge=%g / deviation, n_models=1, max_iter=%d,
                                   seed=0).fit(frame)
elapsed = time.perf_counter() - start
users, items, ratings = np.load(directory + "/test.npy")
keep = (users < model.row_factors_.shape[0]) & (items < model.components_.shape[0])
pred = model.predict(users[keep].astype(int), items[keep].astype(int))
rmse = float(np.sqrt(np.mean((pred - ratings[keep]) ** 2)))
times = np.diff(np.concatenate([[0.0], model.result_.history["time"]]))
print(elapsed, float(np.median(times)), model.n_iter_, rmse)
"""

SPARK = """
import sys, time, numpy as np
from pyspark.sql import SparkSession
from pyspark.ml.recommendation import ALS
directory, iterations = sys.argv[1], int(sys.argv[2])
spark = (SparkSession.builder.master("local[2]").config("spark.driver.memory", "%s")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
train = spark.read.parquet(directory + "/train")
start = time.perf_counter()
model = ALS(rank=%d, maxIter=iterations, regParam=%g, userCol="user", itemCol="item",
            ratingCol="rating", coldStartStrategy="drop", seed=0).fit(train)
elapsed = time.perf_counter() - start
users, items, ratings = np.load(directory + "/test.npy")
import pandas as pd
test = spark.createDataFrame(pd.DataFrame({"user": users.astype("int32"),
                                           "item": items.astype("int32"),
                                           "rating": ratings}))
pred = model.transform(test).toPandas()
rmse = float(np.sqrt(np.mean((pred["prediction"] - pred["rating"]) ** 2)))
jvm = spark.sparkContext._gateway.proc.pid
with open(f"/proc/{jvm}/status") as status:
    peak = [line.split()[1] for line in status if line.startswith("VmHWM")][0]
print(elapsed, rmse, int(peak) / 2**20)
spark.stop()
"""


def _run_child(command, limit=None):
    """Run ``command`` (argv), inside a cgroup capped at ``limit`` bytes when given and the
    machine allows one; ``(stdout's last line, peak resident GiB of that process, times the
    cap was hit or None when uncapped)``."""
    group = _memory_group(limit) if limit else None
    if group is not None:
        command = ["sh", "-c", f'echo $$ > "{group}/cgroup.procs" && exec "$@"', "sh",
                   *command]
    try:
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            if process.returncode:
                raise RuntimeError(f"exit {process.returncode}: {err.read()[-2000:]}")
            line = out.read().strip().splitlines()[-1]
        hits = int((group / "memory.failcnt").read_text()) if group is not None else None
    finally:
        if group is not None:
            group.rmdir()
    return line, usage.ru_maxrss / 2**20, hits


def _memory_group(limit):
    """A fresh cgroup (v1 memory controller) capped at ``limit`` bytes, or None where this
    machine offers none (no controller, or no right to make one)."""
    group = Path("/sys/fs/cgroup/memory") / f"lrkit-bench-{os.getpid()}"
    try:
        group.mkdir()
    except OSError:
        return None
    try:
        (group / "memory.limit_in_bytes").write_text(str(limit))
    except OSError:
        group.rmdir()
        return None
    return group


class _Ratings:
    """The Parquet files, written on first use (kept measurements may make them unneeded)."""

    def __init__(self, n_ratings):
        self.n_ratings, self.directory = n_ratings, None

    def path(self):
        if self.directory is None:
            self.directory = tempfile.mkdtemp(prefix="lrkit-ratings-")
            write_ratings(self.directory, self.n_ratings)
        return self.directory

    def remove(self):
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def _spark(data, iterations):
    script = SPARK % (SPARK_HEAP, RANK, RIDGE)
    line, peak, _ = _run_child([sys.executable, "-c", script, data.path(), str(iterations)])
    total, rmse, jvm = (float(x) for x in line.split())
    return {"total": total, "rmse": rmse, "jvm_gib": jvm, "python_gib": peak}


def _lrkit(data):
    line, peak, hits = _run_child([sys.executable, "-c", LRKIT % (RANK, RIDGE, SWEEPS),
                                   data.path()], limit=MEMORY_LIMIT)
    total, per, iterations, rmse = (float(x) for x in line.split())
    files = Path(data.path(), "train").glob("*.parquet")
    return {"total": total, "per_iteration": per, "iterations": int(iterations), "rmse": rmse,
            "peak_gib": peak, "limit_hits": hits,
            "parquet_gb": sum(f.stat().st_size for f in files) / 1e9}


def out_of_core_table(n_ratings=RATINGS):
    from trials import kept

    settings = {"ratings": n_ratings, "per_file": PER_FILE, "rank": RANK, "sweeps": SWEEPS,
                "ridge": RIDGE}
    data = _Ratings(n_ratings)
    try:
        lrkit = kept("scaleout", "lrkit dask", {**settings, "limit": MEMORY_LIMIT},
                     lambda: _lrkit(data))
        try:
            import pyspark  # noqa: F401
        except ImportError:
            spark = None
        else:
            spark = {n: kept("scaleout", f"spark {n} iterations", {**settings, "iterations": n},
                             lambda n=n: _spark(data, n)) for n in (SWEEPS, 1)}
    finally:
        data.remove()
    rows = ["| engine | memory limit | total fit (s) | s / iteration | iterations | held-out "
            "RMSE | peak memory (GiB) |", "|---|---|---:|---:|---:|---:|---:|"]
    claim = ""
    if spark is None:
        rows.append("| Spark MLlib ALS | pyspark not installed | | | | | |")
    else:
        full = spark[SWEEPS]
        per = (full["total"] - spark[1]["total"]) / (SWEEPS - 1)
        claim = (f"\n\nlrkit's time per iteration is "
                 f"{100 * (1 - lrkit['per_iteration'] / per):.0f} % below Spark's, its total "
                 f"fit {100 * (1 - lrkit['total'] / full['total']):.0f} % below, at held-out "
                 f"RMSE {lrkit['rmse']:.4f} against {full['rmse']:.4f} "
                 f"({100 * (lrkit['rmse'] / full['rmse'] - 1):+.1f} %), with "
                 f"{lrkit['peak_gib'] / (full['jvm_gib'] + full['python_gib']):.0%} of its "
                 "peak memory.")
        rows.append(f"| Spark MLlib ALS (local[2]) | none (JVM heap {SPARK_HEAP[:-1]} GiB) | "
                    f"{full['total']:.1f} | {per:.2f} | {SWEEPS} | {full['rmse']:.4f} | "
                    f"{full['jvm_gib'] + full['python_gib']:.2f} (JVM {full['jvm_gib']:.2f}) |")
    hits = lrkit["limit_hits"]
    limit = ("none (no cgroup here)" if hits is None else
             f"{MEMORY_LIMIT / 2**30:.0f} GiB (cgroup)")
    rows.append(f"| lrkit MatrixCompletion on Dask (2 threads, Parquet) | {limit} | "
                f"{lrkit['total']:.1f} | {lrkit['per_iteration']:.2f} | {lrkit['iterations']} | "
                f"{lrkit['rmse']:.4f} | {lrkit['peak_gib']:.2f} |")
    return "\n".join(rows) + (
        f"\n\nThe ratings take {lrkit['parquet_gb']:.2f} GB as Parquet files and "
        f"{24 * n_ratings / 1e9:.1f} GB as the fit's int64, int64, float64 columns; lrkit's cap "
        f"is {MEMORY_LIMIT / 2**30:.0f} GiB"
        + ("." if not hits else f", which its process (resident memory and the page cache of the "
           f"files it read) reached {hits:,} times, the kernel reclaiming cache each time.")
        + claim)


SECTIONS = [
    ("## Scale-out: ratings out of core, lrkit on Dask against Spark ALS",
     f"{RATINGS:,} synthetic ratings (a rank-{RANK} model of {USERS:,} users and "
     f"{ITEMS:,} items plus noise of deviation 0.5; the noise floor of the RMSE is 0.5), "
     f"stored as {RATINGS // PER_FILE} Parquet files; 1 % held out. Both engines read the "
     f"files, rank 20, {SWEEPS} sweeps, ridge {RIDGE} (Spark's regParam is also weighted by "
     "counts, ALS-WR; lrkit's ridge is in units of the ratings' standard deviation, so it "
     f"gets {RIDGE} divided by that deviation, 0.045 here). lrkit: "
     "`MatrixCompletion(rank=20, n_models=1)` on a Dask DataFrame with the threaded "
     "scheduler, in a process whose memory a cgroup caps below the data's size: rank and "
     "ridge are given, its in-memory fit on a 2·10⁶-entry sample is in the total; since the "
     "data are larger than the sample, it goes on from that fit over all but 2·10⁵ of the "
     "ratings, stops early on those, then runs 2 sweeps on all of them (10 sweeps at most in "
     "all); the grouping of the ratings by user and by item is spilled to disk. Spark: "
     f"`pyspark.ml` ALS on `local[2]` with a heap of {SPARK_HEAP[:-1]} GiB and no cap, time per "
     "iteration from the difference between a 10- and a 1-iteration fit. Peak memory is "
     "each process's resident maximum (Spark's: the JVM's plus its Python driver's).",
     out_of_core_table),
]
