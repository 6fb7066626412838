"""Where the work is in a network, found by its structure rather than by layer names.

A transformer of any family is an embedding, a stack of repeated blocks (the elements of
an ``nn.ModuleList``: LLaMA's ``model.layers``, GPT-2's ``transformer.h``, OPT's
``model.decoder.layers``, BERT's ``encoder.layer``) and an output head. The layers worth
compressing or adapting are the linear maps inside the blocks: the head (often tied to the
embedding) and poolers stay. Inside a block, the MLP is the pair of maps through a wider
intermediate space: ``ups`` (d → f, one or two of them: gate and up) and one ``down``
(f → d), where d is the block's residual width, the width most of its maps read.

GPT-2 keeps its maps as ``transformers``' ``Conv1D`` (the weight stored transposed);
:func:`as_linear` turns one into the equal ``nn.Linear`` (and
:func:`lrkit.nn.surgery.linearize` every one of a model), so the rest of lrkit sees one
kind of layer.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch import nn


def is_conv1d(module) -> bool:
    """Whether ``module`` is a ``transformers`` ``Conv1D``: ``y = x W + b`` with ``W``
    stored as (in, out)."""
    return (type(module).__name__ == "Conv1D" and hasattr(module, "nf")
            and getattr(module, "weight", None) is not None and module.weight.dim() == 2)


def is_linear(module) -> bool:
    """``nn.Linear`` or a ``Conv1D``: a dense map of the last axis."""
    return isinstance(module, nn.Linear) or is_conv1d(module)


def as_linear(module) -> nn.Linear:
    """The ``nn.Linear`` that computes what ``module`` (a ``Conv1D``) computes."""
    d_in, d_out = module.weight.shape
    linear = nn.Linear(d_in, d_out, bias=module.bias is not None,
                       device=module.weight.device, dtype=module.weight.dtype)
    with torch.no_grad():
        linear.weight.copy_(module.weight.T)
        if module.bias is not None:
            linear.bias.copy_(module.bias)
    return linear


def repeated_blocks(model):
    """``{name: block}``: the elements of the outermost ``nn.ModuleList`` s that hold linear
    layers (a transformer's layers), in model order; empty when there are none."""
    blocks, covered = {}, ()
    for name, module in model.named_modules():
        if covered and name.startswith(covered):
            continue
        if isinstance(module, nn.ModuleList) and any(is_linear(m) for m in module.modules()):
            covered = (*covered, f"{name}.")
            blocks.update({f"{name}.{i}": block for i, block in enumerate(module)})
    return blocks


def block_of(name, blocks):
    """The name of the block in ``blocks`` holding layer ``name``, or None."""
    return next((b for b in blocks if name.startswith(f"{b}.")), None)


def block_linear_layers(model):
    """``{name: module}`` of the linear layers (``nn.Linear`` or ``Conv1D``) inside the
    repeated blocks of ``model``."""
    blocks = repeated_blocks(model)
    return {name: module for name, module in model.named_modules()
            if is_linear(module) and block_of(name, blocks) is not None}


def mlp_pairs(model, layers):
    """``[(up names, down name)]`` of the MLPs among ``layers`` (name -> linear module):
    in each block (or in the whole model when it has no repeated blocks), the one map
    ``down`` from a width f back to the residual width d and the one or two maps ``up``
    from d to f. A width reached by more than two maps (fused or separate q, k, v) or by
    more than one way back is not an MLP and is left out."""
    blocks = repeated_blocks(model)
    groups = {}
    for name, module in layers.items():
        groups.setdefault(block_of(name, blocks), {})[name] = _shape(module)
    found = []
    for shapes in groups.values():
        width = Counter(d_in for d_in, _ in shapes.values()).most_common(1)[0][0]
        for inner in sorted({d_out for d_in, d_out in shapes.values() if d_in == width}):
            if inner == width:
                continue
            ups = [n for n, shape in shapes.items() if shape == (width, inner)]
            downs = [n for n, shape in shapes.items() if shape == (inner, width)]
            if 1 <= len(ups) <= 2 and len(downs) == 1:
                found.append((ups, downs[0]))
    return found


def _shape(module):
    """``(in, out)`` of a linear layer."""
    if is_conv1d(module):
        return tuple(module.weight.shape)
    return module.in_features, module.out_features
