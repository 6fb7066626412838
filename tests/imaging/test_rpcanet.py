"""Deep unrolled robust PCA (RPCANet++, paper 28) against PCP on generated small-target
scenes."""

import numpy as np
import pytest

import lrkit
from lrkit.problems import small_targets

torch = pytest.importorskip("torch")
import lrkit.nn as lnn  # noqa: E402


def _f1(predicted, truth):
    tp = np.sum(predicted & truth)
    return 2 * tp / (2 * tp + np.sum(predicted & ~truth) + np.sum(~predicted & truth))


def test_trained_network_beats_pcp_on_held_out_scenes():
    """After 8 epochs on 384 scenes, RPCANet's pixel F1 on 100 new scenes is above PCP's
    (default λ) at the best threshold of its sparse part chosen on those same scenes."""
    torch.set_num_threads(2)
    train, held_out = small_targets(384, seed=0), small_targets(100, seed=1)
    net = lnn.RPCANet(stages=4, channels=16, seed=0)
    history = net.fit(train.images, train.masks, epochs=8, seed=0)
    assert history.epoch_losses[-1] < 0.6 * history.epoch_losses[0]
    net_f1 = _f1(net.detect(held_out.images), held_out.masks)
    sparse = np.stack([lrkit.rpca(image).sparse for image in held_out.images])
    pcp_f1 = max(_f1(sparse > t, held_out.masks) for t in np.linspace(0.02, 0.2, 19))
    assert net_f1 > pcp_f1 + 0.1, (net_f1, pcp_f1)


@pytest.mark.parametrize("shape", [(3, 17, 23), (2, 1, 16, 16)])
def test_forward_keeps_the_shape(shape):
    net = lnn.RPCANet(stages=2, channels=4)
    T, D = net(torch.rand(shape))
    assert T.shape == shape and D.shape == shape


def test_same_seed_same_network():
    images = torch.rand(2, 12, 12)
    first, _ = lnn.RPCANet(stages=2, channels=4, seed=3)(images)
    second, _ = lnn.RPCANet(stages=2, channels=4, seed=3)(images)
    assert torch.equal(first, second)


def test_soft_iou_loss_is_zero_on_the_mask_and_one_off_it():
    mask = torch.zeros(1, 8, 8)
    mask[0, 2:4, 2:4] = 1
    assert float(lnn.soft_iou_loss(mask * 3.0, mask)) == pytest.approx(0.0)
    assert float(lnn.soft_iou_loss(1 - mask, mask)) == pytest.approx(1.0)


@pytest.mark.parametrize("images, masks, match", [
    (np.zeros((8, 8)), np.zeros((8, 8)), "images must be a non-empty"),
    (np.full((1, 8, 8), np.nan), np.zeros((1, 8, 8)), "NaN"),
    (np.zeros((2, 8, 8)), np.zeros((2, 8, 9)), "masks must have the shape"),
])
def test_bad_training_input_is_named(images, masks, match):
    with pytest.raises(ValueError, match=match):
        lnn.RPCANet(stages=1, channels=2).fit(images, masks, epochs=1)


def test_generator_scenes():
    data = small_targets(20, size=24, targets=(2, 3), seed=5)
    assert data.images.shape == data.masks.shape == (20, 24, 24)
    assert data.images.min() == 0.0 and data.images.max() == pytest.approx(1.0)
    assert np.all(data.masks.sum(axis=(1, 2)) > 0)
    again = small_targets(20, size=24, targets=(2, 3), seed=5)
    assert np.array_equal(data.images, again.images)
    empty = small_targets(3, size=16, targets=(0, 0), seed=0)
    assert not empty.masks.any()
