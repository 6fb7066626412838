"""Learned k-space sub-sampling (Deep Probabilistic Sub-sampling, paper 37) on real MNIST
digits."""

import numpy as np
import pytest

from lrkit.operators import dottest, kspace_mask
from lrkit.problems.datasets import mnist_digits

torch = pytest.importorskip("torch")
import lrkit.nn as lnn  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    images, labels = mnist_digits()
    return images, labels


def test_mnist_digits_ship_with_their_labels(digits):
    images, labels = digits
    assert images.shape == (5000, 28, 28) and images.dtype == np.float32
    assert 0.0 == images.min() and images.max() == 1.0
    assert np.array_equal(np.bincount(labels), [500] * 10)


def test_learned_pattern_beats_a_random_one_of_the_same_budget(digits):
    """Same network, same training: the jointly learned 40-of-784 pattern reconstructs
    held-out digits with less error than a uniformly random 40-of-784 pattern."""
    torch.set_num_threads(2)
    images, _ = digits
    train, held_out = images[:1000], images[4000:]
    errors = {}
    for name, mask in (("learned", None), ("random", kspace_mask((28, 28), 40, seed=0))):
        model = lnn.LearnedSampling((28, 28), 40, mask=mask, channels=8, seed=0)
        history = model.fit(train, epochs=4, seed=0)
        assert history.epoch_losses[-1] < history.epoch_losses[0]
        assert model.mask.sum() == 40
        errors[name] = model.error(held_out)
    assert errors["learned"] < 0.8 * errors["random"], errors


def test_straight_through_gradient_reaches_the_logits():
    model = lnn.LearnedSampling((8, 8), 5, channels=2, depth=1)
    model.train()
    images = torch.rand(3, 8, 8)
    torch.nn.functional.mse_loss(model(images), images).backward()
    assert model.logits.grad is not None and model.logits.grad.abs().sum() > 0
    assert model._sampled_pattern().sum().item() == pytest.approx(5.0)


def test_the_fixed_pattern_is_a_lrkit_operator():
    model = lnn.LearnedSampling((6, 10), 12, channels=2, depth=1)
    op = model.operator()
    assert op.samples == 12 and op.shape == (60, 1)
    dottest(op, seed=0)


def test_kspace_masks():
    low = kspace_mask((8, 8), 5, "lowpass")
    assert low.sum() == 5 and low[0, 0] and low[1, 0] and low[0, 1] and low[-1, 0]
    random = kspace_mask((8, 8), 20, seed=1)
    assert random.sum() == 20 and np.array_equal(random, kspace_mask((8, 8), 20, seed=1))
    with pytest.raises(ValueError, match="budget"):
        kspace_mask((4, 4), 17)
    with pytest.raises(ValueError, match="kind"):
        kspace_mask((4, 4), 3, "radial")


@pytest.mark.parametrize("call, match", [
    (lambda: lnn.LearnedSampling((28,), 4), "shape must be"),
    (lambda: lnn.LearnedSampling((4, 4), 0), "budget"),
    (lambda: lnn.LearnedSampling((4, 4), 3, mask=np.ones((4, 4), bool)), "budget=3"),
    (lambda: lnn.LearnedSampling((4, 4), 3).fit(np.zeros((2, 5, 4)), epochs=1), "images"),
    (lambda: lnn.LearnedSampling((4, 4), 3).fit(np.full((2, 4, 4), np.nan), epochs=1), "NaN"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
