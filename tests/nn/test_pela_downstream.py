"""PELA (paper 44) end to end: compress, distil on unlabelled inputs, then fine-tune on a
downstream task with few labels; the distilled model must beat the same compressed model
fine-tuned without the distillation stage."""

import copy
from collections import OrderedDict

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import lrkit.nn as lnn  # noqa: E402

INPUTS, WIDTH, LABELLED = 32, 64, 128


def _problem(seed):
    """A "pretrained" two-layer tanh network on anisotropic inputs, unlabelled inputs for
    the intermediate stage, and a downstream task read off its features (few labels)."""
    g = torch.Generator().manual_seed(seed)
    teacher = nn.Sequential(OrderedDict(l1=nn.Linear(INPUTS, WIDTH), a1=nn.Tanh(),
                                        l2=nn.Linear(WIDTH, WIDTH), a2=nn.Tanh()))
    with torch.no_grad():
        for layer in (teacher.l1, teacher.l2):
            layer.weight.normal_(0.0, 1.5 * layer.in_features ** -0.5, generator=g)
            layer.bias.zero_()
    mixing = torch.randn(INPUTS, INPUTS, generator=g) * torch.logspace(0, -2, INPUTS)[:, None]

    def inputs(n):
        return 3 * torch.randn(n, INPUTS, generator=g) @ mixing

    direction = torch.randn(WIDTH, generator=g)
    unlabelled = [inputs(128) for _ in range(16)]
    x, x_test = inputs(LABELLED), inputs(2000)
    with torch.no_grad():
        y, y_test = ((teacher(z) @ direction > 0).long() for z in (x, x_test))
    return teacher, unlabelled, (x, y), (x_test, y_test)


def _downstream(body, train, test, seed):
    """Fine-tune ``body`` with a new linear head on the labelled examples; test accuracy."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(copy.deepcopy(body), nn.Linear(WIDTH, 2))
    with torch.no_grad():
        model[1].weight.normal_(0.0, 0.02, generator=g)
        model[1].bias.zero_()
    x, y = train
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, len(x), 16)]
    lnn.finetune(model, batches, lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]),
                 epochs=50, lr=3e-3, seed=0, progress=False)
    with torch.no_grad():
        return float((model(test[0]).argmax(1) == test[1]).float().mean())


def _feature_gap(model, teacher, x):
    with torch.no_grad():
        return float(torch.mean((model(x) - teacher(x)) ** 2) / torch.mean(teacher(x) ** 2))


def test_distilled_low_rank_model_fine_tunes_better_than_the_plain_compressed_one():
    gains = []
    for seed in range(6):
        teacher, unlabelled, train, test = _problem(seed)
        student, _ = lnn.compress(teacher, 0.6, "svd", layers=["l1", "l2"], progress=False)
        pela, _ = lnn.distill(copy.deepcopy(student), teacher, unlabelled, steps=300, lr=3e-3,
                              seed=0)
        assert (_feature_gap(pela, teacher, test[0])
                < 0.5 * _feature_gap(student, teacher, test[0]))
        plain = _downstream(student, train, test, seed)
        distilled = _downstream(pela, train, test, seed)
        gains.append(distilled - plain)
    # Few labels make each run noisy (±2 points): the claim is on the mean.
    assert sum(gains) / len(gains) > 0.005, gains
    assert sum(gain > 0 for gain in gains) >= 4, gains
