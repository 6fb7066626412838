"""SNELLA's bi-level sparsity allocation (paper 45): SNELL layers compete for one budget.

SNELL (:class:`~lrkit.nn.adapters.snell.SNELLLinear`) keeps a fixed fraction ``density`` of
every layer's kernelised merge. SNELLA ("Kernelized Sparse Fine-Tuning with Bi-level
Parameter Competition", Shen et al. 2025) lets the tunable weights compete at two levels
during fine-tuning, end to end:

- **across layers**, for one budget ``V_t`` of non-zero merged entries: each layer's share is
  its importance score;
- **inside a layer**, for its share: SNELL's magnitude competition on the merged matrix.

Importance (the smoothed sensitivity and uncertainty of AdaLoRA, applied to every entry θ of
the factors ``A`` and ``B``, after each backward pass):

    I_t = |θ ∂L/∂θ|,   Ī_t = β₁ Ī_{t−1} + (1 − β₁) I_t,   Ū_t = β₂ Ū_{t−1} + (1 − β₂) |I_t − Ī_t|,

    S_l = mean(Ī Ū over A_l) + mean(Ī Ū over B_l),   normalised so that Σ_l S_l = 1.

Budget schedule over ``T`` steps (cubic, as AdaLoRA's): ``V_0 = initial_density · N`` for the
first ``warmup · T`` steps, then ``V_t = V_T + (V_0 − V_T)(1 − progress)³``, and the target
``V_T = density · N`` for the last ``final · T`` steps (``N``: all merged entries). Layer
``l`` gets ``min(N_l, S_l V_t)``; what the caps leave is shared again by score among the
layers with room (at most one pass per layer). The authors' code reallocates every step;
so does the default ``interval=1``. Ours: the allocation is frozen over the final steps, so
they tune one fixed pattern.
"""

from __future__ import annotations

import torch

from lrkit._validation import check_int, check_real
from lrkit.nn.adapters.snell import SNELLLinear


class SparsityAllocator:
    """SNELLA's allocation of one non-zero budget across a model's SNELL layers.

    Use it as the training loop's after-step hook, which runs after the optimizer's step
    while the gradients are still there::

        model = lnn.adapt(model, method="snell", rank=8)
        allocator = lnn.SparsityAllocator(model, density=0.1, steps=len(batches) * epochs)
        lnn.finetune(model, batches, loss_fn, epochs, after_step=allocator)

    Parameters
    ----------
    model : torch.nn.Module
        Adapted with ``method="snell"``; every SNELL layer takes part.
    density : float in (0, 1]
        The target: non-zero merged entries as a fraction of all the SNELL layers' entries
        (the budget a SNELL model at this density has).
    steps : int
        Optimizer steps of the run (the schedule's length).
    initial_density : float in [density, 1]
        The budget at the start (the authors' scripts start near 1).
    warmup, final : float in [0, 1)
        Fractions of ``steps`` at the initial and at the target budget
        (``warmup + final < 1``).
    interval : int
        Reallocate every ``interval`` steps while the budget falls (always at its end).
    beta1, beta2 : float in (0, 1)
        Smoothing of the sensitivity and of its uncertainty.

    Attributes
    ----------
    densities : dict
        ``{layer name: density}`` of the last allocation.
    budgets : list of int
        The budget ``V_t`` of every step so far.
    """

    def __init__(self, model, density, steps, *, initial_density=1.0, warmup=0.0, final=0.1,
                 interval=1, beta1=0.85, beta2=0.85):
        self.layers = {name: m for name, m in model.named_modules() if isinstance(m, SNELLLinear)}
        if not self.layers:
            raise ValueError("model has no SNELL layers: adapt(model, method='snell') first")
        self.density = check_real("density", density, 0.0, 1.0, low_open=True)
        self.initial_density = check_real("initial_density", initial_density, self.density, 1.0)
        self.steps = check_int("steps", steps, 1)
        self.warmup = check_real("warmup", warmup, 0.0, 1.0, high_open=True)
        self.final = check_real("final", final, 0.0, 1.0, high_open=True)
        if self.warmup + self.final >= 1.0:
            raise ValueError(f"warmup + final must be below 1 (the budget must have steps to "
                             f"fall in); got {self.warmup} + {self.final}")
        #: Steps after which the budget starts and stops falling.
        self.falls = (self.warmup * self.steps, (1.0 - self.final) * self.steps)
        self.interval = check_int("interval", interval, 1)
        self.beta1 = check_real("beta1", beta1, 0.0, 1.0, low_open=True, high_open=True)
        self.beta2 = check_real("beta2", beta2, 0.0, 1.0, low_open=True, high_open=True)
        self.sizes = torch.tensor([float(m.weight.numel()) for m in self.layers.values()])
        self.smoothed, self.uncertainty = {}, {}
        self.budgets = []
        self._allocate(torch.full_like(self.sizes, 1.0 / len(self.layers)), self.budget(0))

    def budget(self, step):
        """``V_t``: the non-zero merged entries allowed after ``step`` steps."""
        total = float(self.sizes.sum())
        start, end = self.falls
        if step <= start:
            share = self.initial_density
        elif step >= end:
            share = self.density
        else:
            remaining = 1.0 - (step - start) / (end - start)
            share = self.density + (self.initial_density - self.density) * remaining**3
        return int(round(share * total))

    def __call__(self, step):
        """After optimizer step ``step`` (1-based): update the importances, then reallocate
        when the schedule says so."""
        self._update_importance()
        volume = self.budget(step)
        self.budgets.append(volume)
        falling = self.falls[0] < step < self.falls[1]
        if (falling and step % self.interval == 0) or volume != self._allocated:
            self._allocate(self.scores(), volume)

    @torch.no_grad()
    def _update_importance(self):
        for name, layer in self.layers.items():
            for key, factor in (("A", layer.lora_A), ("B", layer.lora_B)):
                if factor.grad is None:
                    continue
                sensitivity = (factor * factor.grad).abs().nan_to_num()
                smoothed = self.smoothed.get((name, key), torch.zeros_like(factor))
                smoothed = self.beta1 * smoothed + (1 - self.beta1) * sensitivity
                previous = self.uncertainty.get((name, key), torch.zeros_like(factor))
                self.uncertainty[name, key] = (self.beta2 * previous + (1 - self.beta2)
                                               * (sensitivity - smoothed).abs())
                self.smoothed[name, key] = smoothed

    def scores(self):
        """``S_l``: every layer's share of the importance (uniform before any gradient)."""
        scores = torch.tensor([
            sum(float((self.smoothed[name, key] * self.uncertainty[name, key]).mean())
                for key in ("A", "B") if (name, key) in self.smoothed)
            for name in self.layers])
        total = float(scores.sum())
        if not total > 0:
            return torch.full_like(self.sizes, 1.0 / len(self.layers))
        return scores / total

    def _allocate(self, scores, volume):
        """Give layer ``l`` ``min(N_l, S_l V)``, then share what the caps leave again."""
        volumes = torch.zeros_like(self.sizes)
        open_ = torch.ones_like(self.sizes, dtype=torch.bool)
        for _ in range(len(self.layers)):
            left = volume - float(volumes.sum())
            weights = torch.where(open_, scores, torch.zeros_like(scores))
            if left < 0.5 or not open_.any():
                break
            weights = weights / weights.sum() if weights.sum() > 0 else open_ / open_.sum()
            volumes = torch.minimum(self.sizes, volumes + left * weights)
            open_ = volumes < self.sizes
        self.densities = {}
        for (name, layer), share in zip(self.layers.items(), (volumes / self.sizes).tolist(),
                                        strict=True):
            layer.set_density(share)
            self.densities[name] = share
        self._allocated = volume
