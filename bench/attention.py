"""FlashBias (paper 38): where biased attention's time goes, and the low-rank factors against
dense-bias attention, in time and in peak memory.

Memory is measured in a fresh process per path (``python bench/attention.py --peak ...``): the
growth of the peak resident set over one call, after the inputs exist.
"""

from __future__ import annotations

import ctypes
import json
import math
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from timing import best_time

import lrkit.nn as lnn

HEADS, DIM = 8, 32
TOKENS = (1024, 4096, 8192)
#: Per-head weights of the squared-distance bias (a learned scale per head).
DISTANCE_WEIGHTS = torch.linspace(0.25, 1.0, HEADS)[:, None, None]
#: ALiBi's geometric slopes 2^(−8h/H).
ALIBI_SLOPES = 2.0 ** (-8.0 * torch.arange(1, HEADS + 1) / HEADS)[:, None, None]
CASES = ("distance", "alibi")
LABELS = {"distance": "−w_h ‖xᵢ − xⱼ‖², 3-D points, a weight per head (exact)",
          "alibi": "causal ALiBi −m_h (i − j), a slope per head (exact)"}
sdpa = F.scaled_dot_product_attention


def _inputs(tokens, seed=0):
    generator = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, HEADS, tokens, DIM, generator=generator) for _ in range(3))
    return q, k, v, torch.randn(tokens, 3, generator=generator)


def _dense_bias(case, points):
    """The (1, H, L, L) bias a user forms from the source (points or positions)."""
    if case == "distance":
        return (-DISTANCE_WEIGHTS.to(points) * torch.cdist(points, points) ** 2)[None]
    position = torch.arange(points.shape[0], dtype=points.dtype, device=points.device)
    bias = -ALIBI_SLOPES.to(points) * (position[:, None] - position[None, :])
    upper = torch.ones(position.numel(), position.numel(), dtype=torch.bool,
                       device=points.device).triu(1)
    return bias.masked_fill(upper, float("-inf"))[None]


def _factors(case, points):
    """``(U, W)`` of the same bias, per head (H, L, R) and (L, R)."""
    if case == "distance":
        return lnn.distance_bias_factors(points, points, weight=DISTANCE_WEIGHTS.to(points))
    position = torch.arange(points.shape[0], dtype=points.dtype, device=points.device)[:, None]
    slopes = ALIBI_SLOPES.to(points)
    U = torch.cat([-slopes * position, slopes.expand(-1, position.shape[0], 1)], -1)
    return U, torch.cat([torch.ones_like(position), position], -1)


def _formed(case, path):
    """``call(q, k, v, points)``: one attention that forms its bias (``path="dense"``) or its
    factors (``"factored"``) from the points on the way."""
    if path == "dense":
        return lambda q, k, v, points: sdpa(q, k, v, attn_mask=_dense_bias(case, points))
    return lambda q, k, v, points: lnn.biased_attention(q, k, v, _factors(case, points),
                                                        is_causal=case == "alibi")


def _paths(case, q, k, v, points):
    """The four timed calls: dense and factored, the bias given or formed per call."""
    bias, factors = _dense_bias(case, points), _factors(case, points)
    dense, factored = _formed(case, "dense"), _formed(case, "factored")
    return {
        "dense": lambda: sdpa(q, k, v, attn_mask=bias),
        "factored": lambda: lnn.biased_attention(q, k, v, factors, is_causal=case == "alibi"),
        "dense_formed": lambda: dense(q, k, v, points),
        "factored_formed": lambda: factored(q, k, v, points),
    }


def _peak_mib(case, path, tokens):
    """Peak resident-set growth (MiB) of one call of ``path``, in a fresh process."""
    out = subprocess.run([sys.executable, str(Path(__file__)), "--peak", case, path,
                          str(tokens)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["mib"]


def _high_water_kib():
    """The peak resident set (VmHWM) of this process since the last reset, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise OSError("no VmHWM in /proc/self/status")


def _measure_peak(case, path, tokens):
    torch.set_grad_enabled(False)
    call = _formed(case, path)
    call(*_inputs(64))  # the code pages the path runs (they count in the resident set)
    q, k, v, points = _inputs(tokens)
    sdpa(q, k, v)  # the kernel's workspace at this size, which both paths share
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # freed import-time memory leaves the resident set
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark (Linux ≥ 4.0)
    before = _high_water_kib()
    call(q, k, v, points)
    print(json.dumps({"mib": (_high_water_kib() - before) / 1024}))


def _folded(q, k, v, factors, width):
    """Queries, keys and values with the factors folded in, zero-padded to ``width``."""
    U, W = factors
    scale = 1.0 / math.sqrt(q.shape[-1])
    qe = torch.cat([q, (U / scale).expand(*q.shape[:2], *U.shape[-2:])], -1)
    ke = torch.cat([k, W.expand(*k.shape[:2], *W.shape[-2:])], -1)
    pad = width - qe.shape[-1]
    return F.pad(qe, (0, pad)), F.pad(ke, (0, pad)), F.pad(v, (0, width - v.shape[-1])), scale


def where_time_goes_table(tokens=4096):
    """One distance-biased attention at ``tokens``, split into what each part costs."""
    q, k, v, points = _inputs(tokens)
    factors = _factors("distance", points)
    bias = _dense_bias("distance", points)
    shared = bias[:, :1].contiguous()
    q37, k37, v37, scale = _folded(q, k, v, factors, DIM + 5)
    q40, k40, v40, _ = _folded(q, k, v, factors, DIM + 8)
    calls = [
        ("no bias (the floor of any biased attention)", lambda: sdpa(q, k, v)),
        ("dense bias, one for all heads (1, 1, L, L)", lambda: sdpa(q, k, v, attn_mask=shared)),
        ("dense bias, one per head (1, H, L, L)", lambda: sdpa(q, k, v, attn_mask=bias)),
        ("dense bias, one per head as (H, L, L): PyTorch leaves its fused path",
         lambda: sdpa(q, k, v, attn_mask=bias[0])),
        ("factors folded in, head width 37 (d + R)",
         lambda: sdpa(q37, k37, v37, scale=scale)),
        ("factors folded in, head width 40 (a multiple of 8: lrkit)",
         lambda: sdpa(q40, k40, v40, scale=scale)),
        ("forming the per-head dense bias from the points", lambda: _dense_bias("distance",
                                                                                points)),
    ]
    rows = [f"| part of one call, L = {tokens} | time (ms) |", "|---|---:|"]
    with torch.no_grad():
        for label, call in calls:
            call()
            rows.append(f"| {label} | {1e3 * best_time(call, repeat=3):.1f} |")
    return "\n".join(rows)


def flashbias_table():
    rows = ["| tokens | bias | rank | dense bias (ms) | factors (ms) | speed-up | "
            "dense, bias formed per call (ms) | factors formed per call (ms) | speed-up | "
            "relative error | peak memory: dense / factors (MiB) |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    with torch.no_grad():
        for tokens in TOKENS:
            q, k, v, points = _inputs(tokens)
            for case in CASES:
                paths = _paths(case, q, k, v, points)
                reference, folded = paths["dense"](), paths["factored"]()
                error = float(torch.linalg.norm(folded - reference)
                              / torch.linalg.norm(reference))
                ms = {name: 1e3 * best_time(call, repeat=3) for name, call in paths.items()}
                peak = [_peak_mib(case, path, tokens) for path in ("dense", "factored")]
                rank = _factors(case, points)[0].shape[-1]
                rows.append(
                    f"| {tokens} | {LABELS[case]} | {rank} | {ms['dense']:.1f} | "
                    f"{ms['factored']:.1f} | {ms['dense'] / ms['factored']:.2f}× | "
                    f"{ms['dense_formed']:.1f} | {ms['factored_formed']:.1f} | "
                    f"{ms['dense_formed'] / ms['factored_formed']:.2f}× | {error:.1e} | "
                    f"{peak[0]:.0f} / {peak[1]:.0f} |")
            del q, k, v, points, paths, reference, folded
    return "\n".join(rows)


def approximate_table(tokens=4096):
    """A full-rank bias through its truncated SVD: the error is the price."""
    q, k, v, points = _inputs(tokens)
    kernel = torch.exp(-torch.cdist(points, points) ** 2 / 2)
    reference = sdpa(q, k, v, attn_mask=kernel)
    dense = 1e3 * best_time(lambda: sdpa(q, k, v, attn_mask=kernel), repeat=3)
    rows = [f"| rank (L = {tokens}) | dense bias (ms) | factors (ms) | relative error |",
            "|---:|---:|---:|---:|"]
    with torch.no_grad():
        for rank in (16, 64):
            factors = lnn.bias_factors(kernel, rank)
            out = lnn.biased_attention(q, k, v, factors)
            ms = 1e3 * best_time(lambda f=factors: lnn.biased_attention(q, k, v, f), repeat=3)
            error = float(torch.linalg.norm(out - reference) / torch.linalg.norm(reference))
            rows.append(f"| {rank} | {dense:.1f} | {ms:.1f} | {error:.1e} |")
    return "\n".join(rows)


def gpu_table():
    """The same cases on a CUDA GPU in half precision, bias given: time and peak memory."""
    rows = ["| tokens | bias | dense bias (ms) | factors (ms) | speed-up | "
            "peak memory: dense / factors (MiB) |", "|---:|---|---:|---:|---:|---:|"]

    def timed(call):
        call()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        seconds = best_time(lambda: (call(), torch.cuda.synchronize()), repeat=5)
        return 1e3 * seconds, (torch.cuda.max_memory_allocated() - start) / 2**20

    with torch.no_grad():
        for tokens in (4096, 8192, 16384):
            q, k, v, points = (x.to("cuda", torch.float16) for x in _inputs(tokens))
            for case in CASES:
                paths = _paths(case, q, k, v, points)
                (dense, dense_mib), (factored, factored_mib) = (
                    timed(paths["dense_formed"]), timed(paths["factored_formed"]))
                rows.append(f"| {tokens} | {LABELS[case]} | {dense:.2f} | {factored:.2f} | "
                            f"{dense / factored:.2f}× | {dense_mib:.0f} / {factored_mib:.0f} |")
    return "\n".join(rows)


def flashbias_tables():
    tables = [where_time_goes_table(), flashbias_table(),
              "A Gaussian kernel exp(−‖xᵢ − xⱼ‖²/2) of the points, shared by the heads, is full "
              "rank; its factors are a truncated SVD:", approximate_table()]
    if torch.cuda.is_available():
        tables += [f"On the GPU ({torch.cuda.get_device_name()}, float16, bias formed per "
                   "call, best of 5):", gpu_table()]
    else:
        tables.append("No GPU was present for this run; `gpu_table` adds the GPU rows "
                      "(float16, L up to 16 384) when one is.")
    return "\n\n".join(tables)


SECTIONS = [(
    "## FlashBias: attention with a low-rank bias against dense-bias attention",
    f"Attention of {HEADS} heads of dimension {DIM} over L = S tokens on this machine's CPU "
    "(2 cores, float32, best of 3): PyTorch's fused `scaled_dot_product_attention` with the "
    "dense bias as a (1, H, L, L) `attn_mask`, against `lrkit.nn.biased_attention`, which "
    "folds the bias's factors into the queries and keys and runs the same kernel unmasked "
    "(causally for ALiBi, which a mask rules out). The first table splits one call into its "
    "parts: on the CPU the fused kernel reads a dense mask for little more than unbiased "
    "attention costs, and widening the heads by the rank costs about as much, so with the "
    "bias given the factors cannot be much faster here (the causal kernel is the "
    "exception); they win where the bias has to be formed per call (from points or "
    "positions, as a biased transformer does on every input) and in memory. Peak memory: "
    "growth of the peak resident set over one call with the bias formed, in a fresh "
    "process.",
    flashbias_tables)]


if __name__ == "__main__" and sys.argv[1:2] == ["--peak"]:
    _measure_peak(sys.argv[2], sys.argv[3], int(sys.argv[4]))
