"""Per-example gradients in one backward pass equal those taken one example at a time."""

import pytest

torch = pytest.importorskip("torch")

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn.adapters.per_example import per_example_gradients  # noqa: E402


class TokenModel(torch.nn.Module):
    """Tokens through two linear layers (the first called twice), mean-pooled to a head."""

    def __init__(self, d=6, classes=3):
        super().__init__()
        self.encoder = torch.nn.Linear(d, d)
        self.mixer = torch.nn.Linear(d, d)
        self.head = torch.nn.Linear(d, classes)

    def forward(self, x):
        h = torch.tanh(self.encoder(x))
        h = torch.tanh(self.encoder(self.mixer(h)))
        return self.head(h.mean(1))


def loss_fn(model, batch):
    x, y = batch
    return torch.nn.functional.cross_entropy(model(x), y)


def one_at_a_time(model, parameters, batch):
    x, y = batch
    rows = [torch.autograd.grad(loss_fn(model, (x[i:i + 1], y[i:i + 1])), parameters)
            for i in range(len(x))]
    return [torch.stack(g) for g in zip(*rows, strict=True)]


@pytest.mark.parametrize("train_a", [True, False])
def test_lora_and_head_gradients_match_one_example_at_a_time(train_a):
    torch.manual_seed(0)
    model = lnn.adapt(TokenModel(), "lora", 2, targets=["encoder", "mixer"],
                      modules_to_save=["head"], seed=0)
    with torch.no_grad():  # B away from zero, so A's gradient is not zero either
        for layer in lnn.adapter_layers(model).values():
            layer.lora_B.normal_()
            layer.lora_A.requires_grad_(train_a)
    parameters = [p for p in model.parameters() if p.requires_grad]
    batch = (torch.randn(5, 4, 6), torch.tensor([0, 1, 2, 1, 0]))
    fast = per_example_gradients(model, parameters, batch, loss_fn, 5)
    slow = one_at_a_time(model, parameters, batch)
    assert len(fast) == len(parameters) == (6 if train_a else 4)
    for f, s in zip(fast, slow, strict=True):
        assert f.shape == s.shape
        torch.testing.assert_close(f, s, rtol=1e-4, atol=1e-6)
        assert s.abs().max() > 0


def test_parameters_without_a_closed_form_are_left_to_the_caller():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3))
    parameters = list(model.parameters())
    batch = torch.randn(4, 3)
    assert per_example_gradients(model, parameters, batch, lambda m, b: m(b).sum(), 4) is None


def test_dp_gradient_is_the_same_by_hooks_and_one_example_at_a_time(monkeypatch):
    from lrkit.nn.adapters import federated

    torch.manual_seed(1)
    model = lnn.adapt(TokenModel(), "lora", 2, targets=["encoder"], modules_to_save=["head"],
                      seed=0)
    parameters = [p for p in model.parameters() if p.requires_grad]
    batch = (torch.randn(6, 4, 6), torch.tensor([0, 1, 2, 1, 0, 2]))

    def private(clip):
        return federated._private_gradient(model, parameters, batch, loss_fn, 0.0, clip,
                                           torch.Generator().manual_seed(0))

    fast = private(clip=0.05)
    monkeypatch.setattr(federated, "per_example_gradients", lambda *args: None)
    slow = private(clip=0.05)
    for f, s in zip(fast, slow, strict=True):
        torch.testing.assert_close(f, s, rtol=1e-4, atol=1e-7)
    # clipping changed the gradient; with a clip that no example reaches, DP-SGD without
    # noise is the plain mean gradient
    plain = torch.autograd.grad(loss_fn(model, batch), parameters)
    assert not torch.allclose(fast[-1], plain[-1])
    for f, p in zip(private(clip=1e6), plain, strict=True):
        torch.testing.assert_close(f, p, rtol=1e-4, atol=1e-7)
