"""How much of each layer's compression error reaches the model's output, measured.

Whitened truncation tells exactly how large a layer's own output error is (the dropped
singular values, :mod:`.factorization`), but not how much of it survives to the
model's output: later normalisation, residual paths and attention damp some layers' errors
and amplify others'. For each layer ℓ alone, truncated at a probe rank with the others
intact, the damage to the model's output on calibration batches,

    D_ℓ = Σ_t ‖f(x_t) − f_ℓ(x_t)‖²,

divided by the layer's own dropped energy ``Σ_{i>r} σ_{ℓ,i}²`` gives its gain ``g_ℓ``. The
rank allocation then minimises ``Σ_ℓ g_ℓ Σ_{i>r_ℓ} σ_{ℓ,i}²``
(:func:`lrkit.nn.compression.allocation.allocate` with ``"sensitivity"``). This is ASVD's
sensitivity-based rank search reduced to one probe per layer, which is what the linear
model of the damage needs. A probe of a layer in block k reruns the model from block k on
(the blocks before it replay their recorded outputs, :mod:`.replay`): the same damage, on
average half the forward cost.
"""

from __future__ import annotations

import contextlib

import torch

from lrkit.nn.compression.replay import BlockOutputs
from lrkit.nn.layers import LowRankLinear
from lrkit.nn.statistics import _call, _move, _token_mask
from lrkit.nn.surgery import replace_module


def model_output(output):
    """The tensor a model's output stands for: itself, ``last_hidden_state``, ``logits``,
    or the first element of a tuple."""
    if torch.is_tensor(output):
        return output
    for key in ("last_hidden_state", "logits"):
        value = getattr(output, key, None)
        if torch.is_tensor(value):
            return value
    if isinstance(output, (tuple, list)) and output and torch.is_tensor(output[0]):
        return output[0]
    raise ValueError(f"cannot read a tensor from a model output of type {type(output).__name__}")


@torch.no_grad()
def _outputs(model, batches):
    device = next(model.parameters()).device
    result = []
    for batch in batches:
        batch = _move(batch, device)
        out = model_output(_call(model, batch)).to(torch.float64)
        mask = _token_mask(batch)
        if mask is not None and out.dim() == 3 and out.shape[:2] == mask.shape:
            out = out[mask]
        result.append(out)
    return result


def layer_sensitivities(model, layers, decompositions, ranks, batches, progress=None):
    """Gain ``g_ℓ`` of every layer: output damage per unit of its own dropped energy.

    Parameters
    ----------
    model : torch.nn.Module
        Modified in place during the measurement and restored after each layer.
    layers : dict of str -> nn.Linear
    decompositions : dict of str -> lrkit.nn.Decomposition
        Whitened decompositions (their singular values are the layer output errors).
    ranks : dict of str -> int or None
        Probe rank per layer (e.g. the uniform allocation); a ``None`` layer is probed at
        half its break-even rank.
    batches : list of model inputs
    progress : callable(int), optional
        Called with the number of layers measured.

    Returns
    -------
    dict of str -> float
    """
    with _no_cache(model):
        return _gains(model, layers, decompositions, ranks, batches, progress)


@contextlib.contextmanager
def _no_cache(model):
    """A causal language model's key–value cache off (the outputs are the same; replayed
    blocks would leave it incomplete)."""
    config = getattr(model, "config", None)
    cached = getattr(config, "use_cache", None)
    if cached:
        config.use_cache = False
    try:
        yield
    finally:
        if cached:
            config.use_cache = cached


def _gains(model, layers, decompositions, ranks, batches, progress):
    recorded = BlockOutputs(model)
    with recorded.record():
        reference = _outputs(model, batches)
    gains = {}
    for done, (name, module) in enumerate(layers.items(), start=1):
        if progress is not None:
            progress(done)
        decomposition = decompositions[name]
        out, inp = decomposition.shape
        rank = ranks.get(name) or max(1, out * inp // (2 * (out + inp)))
        dropped = float(torch.sum(decomposition.s[rank:] ** 2))
        if dropped <= 0:
            gains[name] = 0.0
            continue
        B, A = decomposition.factors(rank)
        bias = None if module.bias is None else module.bias.detach()
        W = module.weight
        probe = LowRankLinear.from_factors(B.to(W.dtype), A.to(W.dtype), bias)
        original = replace_module(model, name, probe)
        try:
            with recorded.from_block(name):  # the blocks before it replay their outputs
                damaged = _outputs(model, batches)
        finally:
            replace_module(model, name, original)
        damage = sum(float(torch.sum((a - b) ** 2)) for a, b in zip(reference, damaged,
                                                                     strict=True))
        gains[name] = damage / dropped
    return gains
