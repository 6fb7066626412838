"""Federated LoRA, simulated in one process: FedSVD (paper 31), FedAvg-LoRA and FFA-LoRA.

Each round, every client starts from the global adapted model, takes ``local_steps`` SGD
steps on its own batches, and sends its adapter back; the server aggregates.

- ``method="fedavg"`` (the baseline): clients train both LoRA factors; the server averages
  ``A`` and ``B`` separately (so the product of the averages is not the average of the
  products), weighting clients by their number of examples.
- ``method="ffa"`` (FFA-LoRA, Sun et al. 2024, the baseline paper 31 improves on): clients
  train ``B`` only; ``A`` keeps its random start for good, so averaging ``B`` is exact and
  noise on ``B`` is not multiplied by noise on ``A``, but the update stays in ``A``'s random
  row space.
- ``method="fedsvd"`` (paper 31): clients train ``B`` only, ``A`` is shared and frozen
  within a round. The server averages ``B``, forms ``Δ = B̄ A`` and refactorises it by a
  rank-``r`` SVD ``Δ = U S Vᵀ``: the new ``A = Vᵀ`` has orthonormal rows (the principal
  directions of the aggregate update) and the new ``B = U S``. An orthonormal ``A`` bounds
  ``B``'s gradients and noise is not amplified by the product ``B A``.

Differential privacy (DP-SGD, Abadi et al. 2016) with ``noise > 0``: each example's gradient
of the trainable parameters is clipped to norm ``clip``, and Gaussian noise of standard
deviation ``noise · clip`` is added to their sum before averaging. Per-example gradients of
LoRA factors and linear heads come from one backward pass (:mod:`lrkit.nn.adapters.per_example`);
other trainable parameters make it take them one example at a time.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from lrkit._validation import check_choice, check_int, check_real
from lrkit.nn.adapters.adaptation import adapt, adapter_layers
from lrkit.nn.adapters.lora import LoRALinear
from lrkit.nn.adapters.per_example import per_example_gradients
from lrkit.nn.loop import judge, train_steps
from lrkit.result import Outcome

METHODS = ("fedsvd", "fedavg", "ffa")


@dataclass(kw_only=True)
class FederatedResult(Outcome):
    """The global model after training; ``history["loss"]`` is the mean client loss after
    every round (``converged``: it fell below the loss before the first round)."""

    model: torch.nn.Module
    method: str

    @property
    def losses(self):
        return self.history.setdefault("loss", [])


def fedsvd(model, clients, loss_fn, *, rank=8, rounds=10, local_steps=5, lr=0.05,
           method="fedsvd", noise=0.0, clip=1.0, targets="all-linear", modules_to_save=(),
           seed=None, alpha=None):
    """Federated fine-tuning of ``model`` with LoRA adapters (see the module docstring).

    Parameters
    ----------
    model : torch.nn.Module
        The pretrained model (left unchanged).
    clients : list of lists of batches
        Each client's local data; a batch is what ``loss_fn`` takes.
    loss_fn : callable(model, batch) -> scalar tensor (a mean over the batch's examples)
    rank, alpha, targets, modules_to_save
        As in :func:`lrkit.nn.adapt` (LoRA).
    rounds, local_steps : int
    lr : float
        Clients' SGD step size.
    method : {"fedsvd", "fedavg", "ffa"}
    noise, clip : float
        DP-SGD noise multiplier (0 disables DP) and per-example clipping norm.
    seed : int, optional

    Returns
    -------
    FederatedResult
    """
    check_choice("method", method, METHODS)
    check_int("rounds", rounds, 1)
    check_int("local_steps", local_steps, 1)
    check_real("lr", lr, 0.0, low_open=True)
    check_real("noise", noise, 0.0)
    check_real("clip", clip, 0.0, low_open=True)
    if not clients or any(not list(c) for c in clients):
        raise ValueError("clients must be a non-empty list of non-empty lists of batches")
    generator = torch.Generator().manual_seed(0 if seed is None else check_int("seed", seed, 0))
    global_model = adapt(model, "lora", rank, targets=targets, alpha=alpha, seed=seed,
                         modules_to_save=modules_to_save)
    if method in ("fedsvd", "ffa"):
        for layer in adapter_layers(global_model).values():
            layer.lora_A.requires_grad_(False)
    sizes = [sum(_batch_size(b) for b in c) for c in clients]
    result = FederatedResult(model=global_model, method=method, n_iter=rounds)
    start, before = time.perf_counter(), _mean_loss(global_model, clients, loss_fn)
    for _ in range(rounds):
        states = []
        for batches in clients:
            local = copy.deepcopy(global_model)
            _local_training(local, batches, loss_fn, local_steps, lr, noise, clip, generator)
            states.append({k: v.detach() for k, v in local.named_parameters() if v.requires_grad})
        _aggregate(global_model, states, sizes)
        if method == "fedsvd":
            _refactorise(global_model)
        result.losses.append(_mean_loss(global_model, clients, loss_fn))
    judge(result, before, result.losses[-1], f"{rounds} rounds")
    result.time = time.perf_counter() - start
    return result


def _batch_size(batch):
    first = next(iter(batch.values())) if isinstance(batch, Mapping) else batch
    first = first[0] if isinstance(first, (tuple, list)) else first
    return int(first.shape[0])


def _example(batch, i):
    if isinstance(batch, Mapping):
        return {k: v[i:i + 1] if torch.is_tensor(v) else v for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(v[i:i + 1] for v in batch)
    return batch[i:i + 1]


def _local_training(model, batches, loss_fn, steps, lr, noise, clip, generator):
    """A client's ``steps`` plain SGD steps (DP-SGD with ``noise > 0``)."""
    parameters = [p for p in model.parameters() if p.requires_grad]

    def compute(step):
        batch = batches[step % len(batches)]
        if noise == 0:
            return loss_fn(model, batch)
        grads = _private_gradient(model, parameters, batch, loss_fn, noise, clip, generator)
        for parameter, grad in zip(parameters, grads, strict=True):
            parameter.grad = grad
        with torch.no_grad():
            return loss_fn(model, batch)

    train_steps(model, compute, steps, optimizer=torch.optim.SGD(parameters, lr=lr),
                progress=False)


def _private_gradient(model, parameters, batch, loss_fn, noise, clip, generator):
    """DP-SGD: mean of per-example gradients clipped to ``clip``, plus N(0, (noise·clip)²)
    on the sum."""
    n = _batch_size(batch)
    grads = per_example_gradients(model, parameters, batch, loss_fn, n)
    if grads is None:  # no closed form for some parameter: one example at a time
        rows = [_gradients(model, parameters, _example(batch, i), loss_fn) for i in range(n)]
        grads = [torch.stack(column) for column in zip(*rows, strict=True)]
    norms = torch.sqrt(sum((g * g).flatten(1).sum(1) for g in grads))
    factors = torch.clamp(clip / (norms + 1e-12), max=1.0)
    return [(torch.einsum("n,n...->...", factors.to(g), g)
             + noise * clip * torch.randn(g.shape[1:], generator=generator).to(g)) / n
            for g in grads]


def _gradients(model, parameters, batch, loss_fn):
    grads = torch.autograd.grad(loss_fn(model, batch), parameters, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g
            for p, g in zip(parameters, grads, strict=True)]


def _aggregate(model, states, sizes):
    weights = torch.tensor(sizes, dtype=torch.float64)
    weights = weights / weights.sum()
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for key in states[0]:
            mean = sum(float(w) * s[key].to(torch.float64)
                       for w, s in zip(weights, states, strict=True))
            parameters[key].copy_(mean)


def _refactorise(model):
    """FedSVD's server step: ``B A = U S Vᵀ``, then ``A = Vᵀ``, ``B = U S`` (the product,
    and with it the layer's output, is unchanged)."""
    with torch.no_grad():
        for layer in adapter_layers(model).values():
            assert isinstance(layer, LoRALinear)
            product = layer.lora_B.to(torch.float64) @ layer.lora_A.to(torch.float64)
            U, s, Vh = torch.linalg.svd(product, full_matrices=False)
            r = layer.rank
            layer.lora_A.copy_(Vh[:r])
            layer.lora_B.copy_(U[:, :r] * s[:r])


@torch.no_grad()
def _mean_loss(model, clients, loss_fn):
    model.eval()
    losses = [float(loss_fn(model, b)) for batches in clients for b in batches]
    model.train()
    return sum(losses) / len(losses)
