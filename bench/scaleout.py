"""Out-of-core ratings: lrkit's MatrixCompletion on Dask against Spark MLlib ALS.

Synthetic ratings (a rank-20 truth plus noise) are written to Parquet in row blocks; both
engines read them from disk. Each engine's peak resident memory is measured in its own
process (``resource.getrusage``; Spark's is the JVM's, read from ``/proc``).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile

import numpy as np

USERS, ITEMS, RANK = 100_000, 10_000, 20
RATINGS = 10_000_000
SWEEPS = 10
RIDGE = 0.05


def write_ratings(directory, n_ratings=RATINGS, blocks=20, seed=0):
    """``n_ratings`` (user, item, rating) triplets of a rank-20 model plus unit noise, as
    Parquet files (train) and a 1 % held-out NumPy file (test)."""
    import pandas as pd

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
import sys, time, resource, warnings, numpy as np, dask, dask.dataframe as dd
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
print(elapsed, float(np.median(times)), model.n_iter_, rmse,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
"""

SPARK = """
import sys, time, numpy as np
from pyspark.sql import SparkSession
from pyspark.ml.recommendation import ALS
directory, iterations = sys.argv[1], int(sys.argv[2])
spark = (SparkSession.builder.master("local[2]").config("spark.driver.memory", "4g")
         .config("spark.ui.enabled", "false").getOrCreate())
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


def _peak_rss_of(command):
    """Run ``command``; return (stdout's last line, peak resident GiB of the Python
    processes run so far)."""
    process = subprocess.run(command, capture_output=True, text=True, check=False)
    if process.returncode:
        raise RuntimeError(process.stderr[-2000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return process.stdout.strip().splitlines()[-1], peak


def out_of_core_table(n_ratings=RATINGS):
    rows = ["| engine | total fit (s) | s / iteration | iterations | held-out RMSE | "
            "peak memory (GiB) |", "|---|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as directory:
        write_ratings(directory, n_ratings)
        try:  # Spark first: the children's peak memory is a running maximum
            import pyspark  # noqa: F401
        except ImportError:
            rows.append("| Spark MLlib ALS | pyspark not installed | | | | |")
        else:
            results = {}
            for iterations in (1, SWEEPS):
                line, peak = _peak_rss_of([sys.executable, "-c", SPARK % (RANK, RIDGE),
                                           directory, str(iterations)])
                results[iterations] = [float(x) for x in line.split()]
            per = (results[SWEEPS][0] - results[1][0]) / (SWEEPS - 1)
            total, rmse, jvm = results[SWEEPS]
            rows.append(f"| Spark MLlib ALS (local[2]) | {total:.1f} | {per:.2f} | {SWEEPS} | "
                        f"{rmse:.4f} | {jvm + peak:.2f} (JVM {jvm:.2f}) |")
        line, _ = _peak_rss_of([sys.executable, "-c", LRKIT % (RANK, RIDGE, SWEEPS),
                                directory])
        total, per, iterations, rmse, peak = (float(x) for x in line.split())
        rows.append(f"| lrkit MatrixCompletion on Dask (2 threads, Parquet) | {total:.1f} | "
                    f"{per:.2f} | {int(iterations)} | {rmse:.4f} | {peak:.2f} |")
    return "\n".join(rows)


SECTIONS = [
    ("## Scale-out: ratings out of core, lrkit on Dask against Spark ALS",
     f"{RATINGS:,} synthetic ratings (a rank-{RANK} model of {USERS:,} users and "
     f"{ITEMS:,} items plus noise of deviation 0.5; the noise floor of the RMSE is 0.5), "
     "stored as 20 Parquet files; 1 % held out. Both engines read the files, rank 20, "
     f"{SWEEPS} sweeps, ridge {RIDGE} (Spark's regParam is also weighted by counts, "
     "ALS-WR; lrkit's ridge is in units of the ratings' standard deviation, so it gets "
     f"{RIDGE} divided by that deviation, 0.045 here; with {RIDGE} itself its RMSE was "
     "0.619). lrkit: `MatrixCompletion(rank=20, n_models=1)` on a Dask "
     "DataFrame with the threaded scheduler: rank and ridge are given, its in-memory "
     "fit on a 2·10⁶-entry sample is in the total; since the data are larger than the "
     "sample, it goes on from that fit over all but 2·10⁵ of the ratings, stops early on "
     "those, then runs 2 sweeps on all of them (10 sweeps at most in all); Spark: "
     "`pyspark.ml` ALS on "
     "`local[2]`, time per iteration from the difference between a 10- and a 1-iteration "
     "fit. Peak memory is each process's resident maximum.", out_of_core_table),
]
