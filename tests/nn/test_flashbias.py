"""FlashBias (issue 13, paper 38): attention with a bias through its low-rank factors."""

import math

import pytest

torch = pytest.importorskip("torch")

import lrkit.nn as lnn  # noqa: E402


def _dense(q, k, v, bias):
    weights = torch.softmax(q @ k.mT / math.sqrt(q.shape[-1]) + bias, dim=-1)
    return weights @ v


def _qkv(seed, heads=4, length=96, dim=16, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, heads, length, dim, generator=g, dtype=dtype) for _ in range(3)]


def test_distance_bias_is_exact_through_its_factors():
    q, k, v = _qkv(0)
    points = torch.randn(2, 1, 96, 3, generator=torch.Generator().manual_seed(1),
                         dtype=torch.float64)
    bias = -0.5 * torch.cdist(points, points) ** 2
    U, W = lnn.distance_bias_factors(points, points, weight=0.5)
    assert U.shape[-1] == 5
    assert torch.allclose(U @ W.mT, bias, atol=1e-10)
    out = lnn.biased_attention(q, k, v, (U, W))
    assert torch.allclose(out, _dense(q, k, v, bias), atol=1e-10)


def test_general_bias_error_falls_with_rank_and_is_exact_at_full_rank():
    q, k, v = _qkv(2, length=48)
    g = torch.Generator().manual_seed(3)
    positions = torch.arange(48, dtype=torch.float64)
    bias = (-0.2 * (positions[:, None] - positions[None, :]).abs()
            + 0.05 * torch.randn(48, 48, generator=g, dtype=torch.float64))
    reference = _dense(q, k, v, bias)
    errors = [float(torch.linalg.norm(lnn.biased_attention(q, k, v, bias=bias, rank=r)
                                      - reference) / torch.linalg.norm(reference))
              for r in (2, 8, 24, 48)]
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[3] < 1e-10


def test_gradients_flow_to_queries_and_factors():
    q, k, v = _qkv(4, dtype=torch.float32)
    U = torch.randn(96, 3, requires_grad=True)
    W = torch.randn(96, 3)
    q.requires_grad_(True)
    lnn.biased_attention(q, k, v, (U, W)).sum().backward()
    assert q.grad is not None and U.grad is not None and torch.isfinite(U.grad).all()


def test_bad_input_is_refused_with_one_line():
    q, k, v = _qkv(5)
    with pytest.raises(ValueError, match="exactly one"):
        lnn.biased_attention(q, k, v)
    with pytest.raises(ValueError, match="rank="):
        lnn.biased_attention(q, k, v, bias=torch.zeros(96, 96))
    with pytest.raises(ValueError, match="ranks differ"):
        lnn.biased_attention(q, k, v, (torch.zeros(96, 2), torch.zeros(96, 3)))
    with pytest.raises(ValueError, match="rows"):
        lnn.biased_attention(q, k, v, (torch.zeros(10, 2), torch.zeros(96, 2)))
    with pytest.raises(ValueError, match="rank must be"):
        lnn.bias_factors(torch.zeros(4, 4), 9)


def test_causal_alibi_is_rank_two_below_the_diagonal():
    q, k, v = _qkv(6, length=64)
    position = torch.arange(64, dtype=torch.float64)[:, None]
    U = torch.cat([-0.1 * position, torch.full_like(position, 0.1)], 1)
    W = torch.cat([torch.ones_like(position), position], 1)
    bias = (-0.1 * (position - position.T)).masked_fill(
        torch.ones(64, 64, dtype=torch.bool).triu(1), float("-inf"))
    out = lnn.biased_attention(q, k, v, (U, W), is_causal=True)
    assert torch.allclose(out, _dense(q, k, v, bias), atol=1e-10)


def test_per_head_causal_bias_runs_on_the_flash_kernel_alone(device):
    """Per-head ALiBi through its factors on the flash kernel only (on CUDA in half precision,
    where a dense bias cannot use that kernel): the folded width is padded to a multiple of 8
    and the output matches the float64 dense reference."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    heads, length, dim = 4, 256, 32
    dtype = torch.float16 if device == "cuda" else torch.float32
    q, k, v = _qkv(7, heads=heads, length=length, dim=dim)
    slopes = 2.0 ** (-8.0 * torch.arange(1, heads + 1, dtype=torch.float64) / heads)[:, None, None]
    position = torch.arange(length, dtype=torch.float64)[:, None]
    U = torch.cat([-slopes * position, slopes.expand(-1, length, 1)], -1)
    W = torch.cat([torch.ones_like(position), position], -1)
    bias = (U @ W.mT).masked_fill(torch.ones(length, length, dtype=torch.bool).triu(1),
                                  float("-inf"))
    reference = _dense(q, k, v, bias)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        out = lnn.biased_attention(*(x.to(device, dtype) for x in (q, k, v)),
                                   (U.to(device, dtype), W.to(device, dtype)), is_causal=True)
    assert out.device.type == device and out.dtype == dtype and out.shape == q.shape
    error = torch.linalg.norm(out.double().cpu() - reference) / torch.linalg.norm(reference)
    assert error < (5e-3 if device == "cuda" else 1e-5)
