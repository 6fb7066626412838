"""One base for every lrkit linear layer: compression, adapter and training layers."""

import pytest

torch = pytest.importorskip("torch")

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn.base import LAYER_TYPES, LinearLayer  # noqa: E402
from lrkit.nn.training import TRAINING_LAYERS  # noqa: E402


def _layers():
    torch.manual_seed(0)
    linear = torch.nn.Linear(12, 10)
    yield lnn.LowRankLinear.from_linear(linear, 4)
    yield lnn.SparseLowRankLinear.from_linear(linear, 4, density=0.1)
    yield lnn.CompensatedLinear(linear, torch.randn(10, 2), torch.randn(2, 12))
    indexed = lnn.IndexedLinear(12, 10, inputs=torch.tensor([0, 3, 5]),
                                outputs=torch.tensor([1, 2]))
    torch.nn.init.normal_(indexed.weight)
    yield indexed
    for kind in ("lora", "svfit"):
        adapted = lnn.adapt(torch.nn.Sequential(linear), kind, rank=3, seed=0)
        layer = adapted[0]
        with torch.no_grad():
            for parameter in layer.parameters():
                parameter.add_(0.1)
        yield layer
    for kind in TRAINING_LAYERS:
        yield TRAINING_LAYERS.get(kind).target.from_linear(linear, 4)


@pytest.mark.parametrize("layer", list(_layers()), ids=lambda layer: type(layer).__name__)
def test_every_layer_is_a_linear_layer_with_an_exact_plain_equivalent(layer):
    assert isinstance(layer, LinearLayer) and LAYER_TYPES[layer.kind] is type(layer)
    layer.eval()  # Maestro draws a random rank per training forward
    x = torch.randn(5, 12)
    plain = layer.to_linear()
    assert type(plain) is torch.nn.Linear
    torch.testing.assert_close(plain(x), layer(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer.dense_weight(), plain.weight)
    assert layer.extra_repr().startswith("in_features=12, out_features=10")
