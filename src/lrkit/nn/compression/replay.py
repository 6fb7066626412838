"""Rerun a model from one of its blocks on: the blocks before it replay what they returned.

A probe that changes one layer of block k (:mod:`.sensitivity`) changes nothing before
block k, so the forward pass through blocks 0 … k−1 can be skipped: each is swapped, for
the probe, for a :class:`Replay` that returns (a copy of) what the block returned on the same
batch in the reference pass. The outputs are the same as a full pass (the same blocks
compute the same values from the same inputs), at the cost of the blocks from k on: on
average half the blocks of a model per probe.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from lrkit.nn.structure import block_of, repeated_blocks
from lrkit.nn.surgery import replace_module


class Replay(nn.Module):
    """Stands in for ``block``: the i-th call returns a copy of ``outputs[i]``; attributes
    the model's loop reads from its blocks (an attention type, a layer index) are the
    block's."""

    def __init__(self, block, outputs):
        super().__init__()
        object.__setattr__(self, "block", block)  # not a submodule: no parameters here
        self.outputs, self.calls = outputs, 0

    def forward(self, *args, **kwargs):
        output = self.outputs[self.calls]
        self.calls += 1
        return _copied(output)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(object.__getattribute__(self, "block"), name)


def _copied(value):
    if torch.is_tensor(value):
        return value.clone()
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_copied(v) for v in value)
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


class BlockOutputs:
    """What every repeated block of ``model`` returned, batch by batch, in one pass:
    ``record()`` around the reference pass, then ``from_block(name)`` around a probe of a
    layer named ``name``."""

    def __init__(self, model):
        self.model = model
        self.blocks = repeated_blocks(model)
        self.outputs = {name: [] for name in self.blocks}

    @contextlib.contextmanager
    def record(self):
        hooks = [block.register_forward_hook(
            lambda module, args, output, name=name: self.outputs[name].append(
                _copied(output)))
                 for name, block in self.blocks.items()]
        try:
            yield self
        finally:
            for hook in hooks:
                hook.remove()

    @contextlib.contextmanager
    def from_block(self, layer):
        """Blocks before the one holding ``layer`` replay; all run when ``layer`` is in
        none (or the recording is incomplete)."""
        names = list(self.blocks)
        owner = block_of(layer, self.blocks)
        first = 0 if owner is None else names.index(owner)
        sizes = {len(self.outputs[n]) for n in names[:first]}
        replayed = names[:first] if len(sizes) == 1 and 0 not in sizes else []
        for name in replayed:
            replace_module(self.model, name, Replay(self.blocks[name], self.outputs[name]))
        try:
            yield
        finally:
            for name in replayed:
                replace_module(self.model, name, self.blocks[name])
