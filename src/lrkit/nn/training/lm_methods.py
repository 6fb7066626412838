"""The methods ``lrkit train-lm`` and the benchmark compare, each as a model, an optimizer
and a per-step hook built the same way.

- ``full``: every weight, AdamW (the baseline).
- ``galore`` / ``dct`` / ``random``: every weight; the AdamW moments of the block matrices
  in a rank-``r`` projection (:class:`~lrkit.nn.ProjectedAdamW`; papers 16, 17).
- ``lowrank`` / ``sltrain`` / ``lost`` / ``sst`` / ``maestro``: the block matrices replaced
  by low-rank training layers (:func:`~lrkit.nn.lowrank_model`), AdamW (plain ``B A``, then
  papers 20, 29, 30, 26); SST draws new active singular-vector pairs every
  ``SST_ITERATION`` steps and re-orthogonalises after a round of ``⌈k / r⌉`` draws.
- ``lora`` / ``relora``: SST's baselines (its paper, section 3): the block matrices'
  random starting weights frozen plus a trained ``B A`` (LoRA from scratch); ReLoRA*
  merges ``B A`` into them and restarts ``A``, ``B`` and their Adam state every iteration
  of ``SST_ITERATION`` steps, SST's own iteration.
- ``trp``: every weight, AdamW plus a nuclear-norm penalty, the blocks truncated to 99 %
  energy every 100 steps (paper 39).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lrkit._validation import check_choice
from lrkit.nn.training import (
    NuclearRegularizer,
    SSTLinear,
    lowrank_model,
    merge_and_restart,
    reorthogonalize,
    resample,
    truncate,
)
from lrkit.nn.training.gradient_projection import ProjectedAdamW
from lrkit.nn.workloads.language_model import TinyGPT, block_layers, lm_loss

TRAIN_LM_METHODS = ("full", "galore", "dct", "random", "lowrank", "sltrain", "lost", "sst",
                    "maestro", "lora", "relora", "trp")
#: Default learning rates: AdamW on dense or factored weights, and the projected optimizer
#: (whose update is scaled by α = 0.25, as in GaLore).
LEARNING_RATES = {"projected": 4e-3, "default": 1e-3}
#: Steps between TRP truncations and projection refreshes.
REFRESH = 100
#: Steps between SST's draws of the active singular-vector pairs (the paper's iteration),
#: and between ReLoRA*'s merges.
#: Each draw restarts the drawn vectors' Adam state; on the Shakespeare workload longer
#: iterations train better (validation perplexity after 1 000 steps: 6.77 with 10 steps,
#: 6.37 with 60, 6.38 with 100, 6.30 with 200).
SST_ITERATION = 200


@dataclass
class LMRun:
    """A model, its optimizer and a hook called after every step."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    step_callback: object = None

    @property
    def trainable(self):
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


def build_run(method, vocab_size, rank=32, *, lr=None, seed=0, context=128, width=192,
              depth=4, heads=4, peer=None, iteration=None):
    """The :class:`LMRun` of ``method`` on a fresh :class:`~lrkit.nn.TinyGPT`.

    ``peer="galore-torch"`` builds galore-torch's ``GaLoreAdamW`` on the same blocks instead
    (for the benchmark). ``iteration``: steps between SST's draws and between ReLoRA*'s
    merges (default ``SST_ITERATION``).
    """
    check_choice("method", method, TRAIN_LM_METHODS)
    torch.manual_seed(seed)
    model = TinyGPT(vocab_size, context, width, depth, heads)
    projected = _is_projected(method, peer)
    lr = lr or default_lr(method, peer)
    if peer == "galore-torch":
        return LMRun(model, _galore_torch(model, rank, lr))
    if projected:
        blocks = [p for n, p in model.named_parameters() if _in_blocks(n, p)]
        others = [p for n, p in model.named_parameters() if not _in_blocks(n, p)]
        basis = {"galore": "svd"}.get(method, method)
        optimizer = ProjectedAdamW([{"params": blocks}, {"params": others, "rank": 10**9}],
                                   rank=rank, basis=basis, update_every=REFRESH, lr=lr,
                                   seed=seed)
        return LMRun(model, optimizer)
    if method in ("lowrank", "sltrain", "lost", "sst", "maestro", "lora", "relora"):
        layer = "relora" if method == "lora" else method  # LoRA: ReLoRA* never merged
        model = lowrank_model(model, layer, rank, targets=block_layers, seed=seed,
                              inplace=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    iteration = iteration or SST_ITERATION
    if method == "sst":
        return LMRun(model, optimizer, _sst_schedule(model, optimizer, seed, iteration))
    if method == "relora":
        return LMRun(model, optimizer, _relora_schedule(model, optimizer, seed, iteration))
    if method == "trp":
        penalty = NuclearRegularizer(model, weight=1e-5, targets=block_layers)
        return LMRun(model, _Penalised(optimizer, penalty),
                     lambda step: step % REFRESH or truncate(model, energy=0.99,
                                                             targets=block_layers))
    return LMRun(model, optimizer)


def default_lr(method, peer=None):
    """The learning rate ``build_run`` gives ``method`` unless told otherwise."""
    return LEARNING_RATES["projected" if _is_projected(method, peer) else "default"]


def _is_projected(method, peer):
    """Whether ``method`` (or the peer optimizer) keeps the moments in a projection."""
    return method in ("galore", "dct", "random") or peer is not None


def _sst_schedule(model, optimizer, seed, iteration):
    """SST's rounds: new active pairs every ``iteration`` steps; after a round of
    ``⌈k / r⌉`` draws (the most of any layer), a re-SVD instead."""
    per_round = max(layer.iterations_per_round for layer in model.modules()
                    if isinstance(layer, SSTLinear))

    def restart(count, seed):
        action = reorthogonalize if count % per_round == 0 else resample
        action(model, optimizer, seed=seed)

    return _every(iteration, seed, restart)


def _relora_schedule(model, optimizer, seed, iteration):
    """ReLoRA*'s merge and restart every ``iteration`` steps."""
    return _every(iteration, seed,
                  lambda count, seed: merge_and_restart(model, optimizer, seed=seed))


def _every(iteration, seed, action):
    """A step hook calling ``action(count, seed)`` after every ``iteration`` steps
    (``count`` = 1, 2, ...), each time with a fresh seed drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)

    def after_step(step):
        if step % iteration == 0:
            action(step // iteration, int(torch.randint(2**31, (), generator=generator)))

    return after_step


def _in_blocks(name, parameter):
    """A matrix of a block's linear layer (``blocks.0.mlp.fc.weight``)."""
    return parameter.ndim == 2 and block_layers(name, None)


class _Penalised(torch.optim.Optimizer):
    """An optimizer whose step first adds the gradient of a penalty (TRP's nuclear norm)."""

    def __init__(self, optimizer, penalty):
        self.inner, self.penalty = optimizer, penalty
        self.param_groups, self.state, self.defaults = (optimizer.param_groups, optimizer.state,
                                                        optimizer.defaults)

    def zero_grad(self, set_to_none=True):
        self.inner.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        with torch.enable_grad():
            self.penalty().backward()
        return self.inner.step(closure)


def _galore_torch(model, rank, lr):
    from galore_torch import GaLoreAdamW

    blocks = [p for n, p in model.named_parameters() if _in_blocks(n, p)]
    others = [p for n, p in model.named_parameters() if not _in_blocks(n, p)]
    return GaLoreAdamW([{"params": others},
                        {"params": blocks, "rank": rank, "update_proj_gap": REFRESH,
                         "scale": 0.25, "proj_type": "std"}], lr=lr, weight_decay=0.0,
                       no_deprecation_warning=True)


__all__ = ["LMRun", "TRAIN_LM_METHODS", "build_run", "lm_loss"]
