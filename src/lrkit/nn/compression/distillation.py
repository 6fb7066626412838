"""Lift a compressed model by distilling the original into it (PELA, RMT-KD).

PELA (Guo, Wang & Kankanhalli, CVPR 2024) follows low-rank compression with a short
intermediate training stage in which only the low-rank model is updated, against two terms:

- **feature distillation**: the student's token features should match the frozen teacher's,
  layer by layer, ``Σ_l mean_t ‖h_l(x_t) − h_l^teacher(x_t)‖² / mean_t ‖h_l^teacher‖²``
  (hidden states of every layer when the model returns them, else its output);
- **weight-perturbation regularisation**: the recovered matrix ``B A`` of every factorised
  layer should stay close to the original weight ``W``,
  ``λ Σ_ℓ ‖B_ℓ A_ℓ − W_ℓ‖²_F / ‖W_ℓ‖²_F``, so the few calibration sentences do not pull the
  factors away from what the pretrained model knew.

Only the factors (and biases) of :class:`~lrkit.nn.LowRankLinear` layers train; everything
else stays as compressed. RMT-KD's self-distillation after its spectral truncation is the
same loop with ``perturbation=0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lrkit._validation import check_int, check_real
from lrkit.nn.compression.sensitivity import model_output
from lrkit.nn.layers import LowRankLinear
from lrkit.nn.loop import TrainingHistory, train_steps
from lrkit.nn.statistics import _move, _token_mask


@dataclass(kw_only=True)
class DistillHistory(TrainingHistory):
    """The :class:`~lrkit.nn.loop.TrainingHistory` of :func:`distill`, with the two parts
    of the loss per step: ``feature`` (distillation) and ``perturbation`` (regulariser)."""

    @property
    def feature(self):
        return self.history.get("feature", [])

    @property
    def perturbation(self):
        return self.history.get("perturbation", [])


def _features(model, batch):
    """Every hidden state the model returns (``output_hidden_states``), else its output."""
    if isinstance(batch, dict):
        try:
            output = model(**batch, output_hidden_states=True)
        except TypeError:
            output = model(**batch)
    else:
        output = model(batch)
    states = getattr(output, "hidden_states", None)
    if states:
        return list(states[1:])  # the embeddings are not compressed
    return [model_output(output)]


def _masked(state, mask):
    if mask is not None and state.dim() == 3 and state.shape[:2] == mask.shape:
        return state[mask]
    return state.reshape(-1, state.shape[-1])


def distill(student, teacher, batches, *, steps=100, lr=1e-4, perturbation=1.0,
            weight_decay=0.0, seed=0, progress=None):
    """Train the low-rank layers of ``student`` to reproduce ``teacher`` (in place).

    Parameters
    ----------
    student : torch.nn.Module
        A compressed model (from :func:`lrkit.nn.compress`) with the teacher's
        architecture; only its :class:`~lrkit.nn.LowRankLinear` layers train.
    teacher : torch.nn.Module
        The original model (frozen).
    batches : sequence of model inputs
        Unlabelled inputs (e.g. the calibration batches), cycled for ``steps`` steps.
    steps : int
    lr : float
        AdamW learning rate (constant after a 10 % linear warm-up).
    perturbation : float
        λ of the weight-perturbation term (0: feature distillation only).
    weight_decay : float
    seed : int
    progress : callable(step, loss), optional

    Returns
    -------
    (torch.nn.Module, DistillHistory)
        The student and its losses per step.
    """
    steps = check_int("steps", steps, 1)
    lr = check_real("lr", lr, 0.0, low_open=True)
    perturbation = check_real("perturbation", perturbation, 0.0)
    batches = list(batches)
    if not batches:
        raise ValueError("batches is empty: pass the inputs to distil on")
    teacher_modules = dict(teacher.named_modules())
    pairs = [(module, teacher_modules.get(name)) for name, module in student.named_modules()
             if isinstance(module, LowRankLinear)]
    if not pairs:
        raise ValueError("the student has no LowRankLinear layers: compress it first")
    missing = [i for i, (_, original) in enumerate(pairs)
               if original is None or not hasattr(original, "weight")]
    if missing and perturbation:
        raise ValueError("the teacher lacks the student's factorised layers: it must be the "
                         "model the student was compressed from (or set perturbation=0)")
    flags = [(p, p.requires_grad) for p in student.parameters()]
    for parameter in student.parameters():
        parameter.requires_grad_(False)
    trainable = [p for module, _ in pairs for p in module.parameters()]
    for parameter in trainable:
        parameter.requires_grad_(True)
    originals = [(module, original.weight.detach(), float(original.weight.detach().norm()) ** 2)
                 for module, original in pairs if original is not None]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)
    warmup = max(1, steps // 10)
    device = next(student.parameters()).device
    teacher.eval()

    def compute(step):
        batch = _move(batches[step % len(batches)], device)
        mask = _token_mask(batch)
        with torch.no_grad():
            targets = [_masked(t, mask) for t in _features(teacher, batch)]
        outputs = [_masked(s, mask) for s in _features(student, batch)]
        feature = sum(torch.mean((s - t) ** 2) / torch.mean(t**2).clamp_min(1e-12)
                      for s, t in zip(outputs, targets, strict=True))
        penalty = torch.zeros((), device=device)
        if perturbation:
            penalty = sum(torch.sum((m.weight - W) ** 2) / max(norm, 1e-12)
                          for m, W, norm in originals)
        return feature + perturbation * penalty, {"feature": feature, "perturbation": penalty}

    try:  # eval mode: no dropout, the targets are deterministic features
        history = train_steps(student, compute, steps, optimizer=optimizer,
                              schedule=lambda s: min(1.0, (s + 1) / warmup), seed=seed,
                              progress=(lambda s, _, loss: progress(s, loss)) if progress
                              else False, label="distilling", mode="eval",
                              history=DistillHistory())
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)
    return student, history
