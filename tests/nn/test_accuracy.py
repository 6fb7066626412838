"""``lrkit.nn.accuracy``: batched inference without gradients, with progress reports, and
the adapt CLI's fixed held-out sample (issue 42: evaluation took 20x the training time)."""

import pytest

torch = pytest.importorskip("torch")

import lrkit.nn as lnn  # noqa: E402
from lrkit.cli.adapt import _sample  # noqa: E402


class _Threshold(torch.nn.Module):
    """Class 1 when the input's first feature is positive; records whether autograd ran."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([[-1.0], [1.0]]))
        self.graphs = []

    def forward(self, features):
        logits = features[:, :1] @ self.weight.T
        self.graphs.append(logits.requires_grad)
        return logits


def test_accuracy_counts_without_building_graphs_and_reports():
    torch.manual_seed(0)
    batches = []
    for _ in range(3):
        features = torch.randn(8, 2)
        labels = (features[:, 0] > 0).long()
        labels[0] = 1 - labels[0]  # one mistake a batch
        batches.append({"features": features, "labels": labels})
    model, reports = _Threshold(), []
    assert lnn.accuracy(model, batches, progress=lambda *r: reports.append(r)) == 21 / 24
    assert model.graphs == [False, False, False] and model.training
    assert reports == [("accuracy", 1, 3), ("accuracy", 2, 3), ("accuracy", 3, 3)]
    assert lnn.accuracy(model, iter(batches), progress=False) == 21 / 24


def test_the_held_out_sample_is_fixed_and_capped():
    texts, labels = [f"t{i}" for i in range(50)], list(range(50))
    first, again = _sample((texts, labels), 10, seed=0), _sample((texts, labels), 10, seed=0)
    assert first == again and len(first[0]) == 10
    assert all(texts.index(t) == y for t, y in zip(*first, strict=True))
    assert _sample((texts, labels), 100, seed=0) == (texts, labels)
