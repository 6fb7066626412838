"""Triplets ``(row, col, value)`` of a Dask DataFrame grouped so that every row (or column)
has all its entries in one group: what a half step of ALS needs (:mod:`dask_ratings`), with
memory bounded by a partition or a group per thread on the local scheduler."""

from __future__ import annotations

import os

import numpy as np


def grouped(frame, side, path):
    """``frame``'s entries grouped so that each value of ``side`` lives in one group, as a
    list of delayed pandas DataFrames (one task each).

    With a ``distributed`` client the groups are a shuffle kept in the cluster's memory
    (which spills to disk). Otherwise every partition is written once under ``path``,
    sorted by bucket ``side % buckets`` (:func:`_spill`), and a group is read back as its
    bucket's slice of every file (:func:`_gather`): the local scheduler holds one partition
    or one group per thread, never the whole data (Dask's own local shuffle buffers up to
    1 GB in memory)."""
    import dask

    buckets = max(frame.npartitions, 1)
    if _client_active():
        return frame.shuffle(on=side, npartitions=buckets).persist().to_delayed()
    files = [f"{path}-{i}.bin" for i in range(frame.npartitions)]
    bounds = np.array(dask.compute(*[dask.delayed(_spill)(part, side, buckets, file)
                                     for part, file in zip(frame.to_delayed(), files,
                                                           strict=True)]))
    return [dask.delayed(_gather)(files, bounds[:, bucket], bounds[:, bucket + 1])
            for bucket in range(buckets)]


def _spill(part, side, buckets, file):
    """One partition as records ``(row, col, value)`` of 3 × 8 bytes in ``file``, sorted by
    bucket; returns the bucket boundaries (record numbers)."""
    keys = part[side].to_numpy() % buckets
    order = np.argsort(keys, kind="stable")
    records = np.empty((len(order), 3), dtype=np.int64)
    records[:, 0] = part["row"].to_numpy()[order]
    records[:, 1] = part["col"].to_numpy()[order]
    records[:, 2] = part["value"].to_numpy(dtype=np.float64)[order].view(np.int64)
    records.tofile(file)
    return np.searchsorted(keys[order], np.arange(buckets + 1))


def _gather(files, starts, stops):
    """Records ``starts[i]:stops[i]`` of every spilled ``files[i]``, as one pandas DataFrame.

    One read per file, with read-ahead off where the system allows: a memory map (or the
    default read-ahead, megabytes on some disks) would pull in far more than the slice, and
    under a memory cap evict what the other groups need."""
    import pandas as pd

    records = np.empty((int(np.sum(stops - starts)), 3), dtype=np.int64)
    filled = 0
    for file, start, stop in zip(files, starts, stops, strict=True):
        _read_into(file, 24 * int(start), records[filled:filled + stop - start])
        filled += stop - start
    return pd.DataFrame({"row": records[:, 0], "col": records[:, 1],
                         "value": records[:, 2].view(np.float64)})


def _read_into(file, offset, out):
    """Fill ``out`` with the bytes of ``file`` from ``offset``, read-ahead off."""
    view = memoryview(out).cast("B")
    with open(file, "rb", buffering=0) as handle:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        handle.seek(offset)
        done = 0
        while done < len(view):
            count = handle.readinto(view[done:])
            if not count:
                raise OSError(f"{file} ended {len(view) - done} bytes early")
            done += count


def _client_active() -> bool:
    try:
        from distributed import get_client

        get_client()
    except (ImportError, ValueError):
        return False
    return True
