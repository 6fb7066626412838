"""WeLore-COFT (paper 16): after WeLore's compression, fine-tune only the low-rank components
(LRCs) and freeze the dense ones (N-LRCs)."""

import copy
from collections import OrderedDict

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from torch import nn  # noqa: E402

import lrkit.nn as lnn  # noqa: E402
from lrkit.nn.adapters.welore import low_rank_components, welore_coft  # noqa: E402
from lrkit.nn.workloads import models  # noqa: E402

WIDTH, RANK = 48, 4


def _pretrained(seed):
    """A network with one heavy-tailed layer (rank 4 plus a little noise: an LRC) and one
    flat layer (orthogonal, every singular value 1: an N-LRC)."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(OrderedDict(low=nn.Linear(WIDTH, WIDTH), act=nn.Tanh(),
                                      flat=nn.Linear(WIDTH, WIDTH), act2=nn.Tanh(),
                                      head=nn.Linear(WIDTH, 1)))
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                layer.bias.normal_(0.0, 0.1, generator=g)
                layer.weight.normal_(0.0, WIDTH ** -0.5, generator=g)
        U, V = torch.randn(WIDTH, RANK, generator=g), torch.randn(RANK, WIDTH, generator=g)
        model.low.weight.copy_(U @ V / WIDTH
                               + 1e-3 * torch.randn(WIDTH, WIDTH, generator=g))
        model.flat.weight.copy_(torch.linalg.qr(torch.randn(WIDTH, WIDTH, generator=g))[0])
    return model, (U, V)


def _task(seed, model, factors):
    """The downstream task: the pretrained network with its LRC moved within its own row
    space (what WeLore's gradient argument says fine-tuning does)."""
    g = torch.Generator().manual_seed(seed + 100)
    U, V = factors
    target = copy.deepcopy(model)
    with torch.no_grad():
        target.low.weight.copy_((U + 0.5 * torch.randn(U.shape, generator=g)) @ V / WIDTH)
        x, x_test = torch.randn(512, WIDTH, generator=g), torch.randn(512, WIDTH, generator=g)
        return (x, target(x)), (x_test, target(x_test))


def _fit(model, data, steps=200, lr=3e-3):
    x, y = data
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, len(x), 64)]
    lnn.finetune(model, batches, lambda m, b: torch.mean((m(b[0]) - b[1]) ** 2),
                 epochs=steps // len(batches), lr=lr, seed=0, progress=False)
    return model


def _error(model, data):
    with torch.no_grad():
        return float(torch.mean((model(data[0]) - data[1]) ** 2) / torch.var(data[1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_the_low_rank_components_alone_matches_full_fine_tuning(seed):
    pretrained, factors = _pretrained(seed)
    train, test = _task(seed, pretrained, factors)
    small, _ = lnn.compress(pretrained, 0.4, "svd", allocation="welore",
                            layers=["low", "flat"], progress=False)
    assert set(low_rank_components(small)) == {"low"}  # the split WeLore makes
    assert type(small.flat) is nn.Linear

    full = _fit(copy.deepcopy(small), train)
    coft = _fit(welore_coft(small), train)

    count = lnn.trainable_parameters
    assert count(welore_coft(small)) == small.low.rank * 2 * WIDTH + WIDTH  # factors, bias
    assert 5 * count(welore_coft(small)) < count(small)
    start = _error(small, test)
    assert _error(coft, test) < 0.05 * start
    assert _error(coft, test) <= 1.5 * _error(full, test)


def test_welore_coft_freezes_everything_but_the_factors_and_keeps_the_outputs():
    encoder = models.tiny_bert(hidden=64)
    classifier = lnn.SentenceClassifier(encoder)
    small, _ = lnn.compress(classifier, 0.4, "svd", allocation="welore", progress=False)
    lrcs = low_rank_components(small)
    assert lrcs
    tuned = welore_coft(small, modules_to_save=["classifier"])
    ids = torch.randint(5, 500, (4, 12), generator=torch.Generator().manual_seed(0))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    with torch.no_grad():
        assert torch.equal(tuned(**batch), small(**batch))
    expected = {f"{name}.{tensor}" for name, layer in lrcs.items()
                for tensor, _ in layer.named_parameters()} | {"classifier.weight",
                                                              "classifier.bias"}
    assert {name for name, p in tuned.named_parameters() if p.requires_grad} == expected
    assert all(p.requires_grad for p in small.parameters())  # a copy unless inplace

    frozen = {name: p.detach().clone() for name, p in tuned.named_parameters()
              if not p.requires_grad}
    labelled = [{**batch, "labels": torch.tensor([0, 1, 0, 1])}]
    lnn.finetune(tuned, labelled, lnn.classification_loss, epochs=3, lr=1e-2, progress=False)
    assert all(torch.equal(p, frozen[name]) for name, p in tuned.named_parameters()
               if name in frozen)


def test_welore_coft_refuses_what_it_cannot_train():
    dense = models.tiny_bert(hidden=64)
    with pytest.raises(ValueError, match="no low-rank components: compress it first"):
        welore_coft(dense)
    small, _ = lnn.compress(dense, 0.4, "svd", allocation="welore", progress=False)
    with pytest.raises(ValueError, match="modules_to_save names no module"):
        welore_coft(small, modules_to_save=["head"])
    with pytest.raises(ValueError, match="model must be a torch.nn.Module"):
        welore_coft("model")
