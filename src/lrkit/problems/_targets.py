"""Images of small targets on a low-rank background: the sparse-object segmentation task of
RPCANet++ (paper 28), generated with pixel-exact ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from lrkit._random import as_generator
from lrkit._validation import check_int, check_real

#: A pixel belongs to a target where the target's intensity is above this fraction of its
#: peak.
MASK_LEVEL = 0.25


@dataclass
class TargetImages:
    """``images = backgrounds + targets + noise`` with the targets' support.

    Attributes
    ----------
    images : numpy.ndarray, float32, shape (n, size, size)
        Scaled to [0, 1] image by image.
    masks : numpy.ndarray of bool, shape (n, size, size)
        Target pixels.
    backgrounds : numpy.ndarray, float32, shape (n, size, size)
        The low-rank-plus-clutter backgrounds, on the images' scale.
    """

    images: np.ndarray
    masks: np.ndarray
    backgrounds: np.ndarray


def small_targets(n_images=256, size=32, rank=3, targets=(1, 4), contrast=0.35,
                  clutter=0.03, noise=0.02, seed=None) -> TargetImages:
    """Infrared-style scenes: a low-rank background, correlated clutter, dim small targets.

    Each background is ``Σ_{k<rank} u_k v_kᵀ`` with smooth random profiles ``u, v`` (random
    cosine series), plus clutter (white noise blurred by a 1.5-pixel Gaussian and scaled by
    ``4 · clutter``, a standard deviation of about ``0.75 · clutter``; neither low rank nor
    sparse). Each image holds between
    ``targets[0]`` and ``targets[1]`` Gaussian blobs (widths 0.5–1.3 px, peaks
    ``contrast · U(0.6, 1)`` above the local background) and white noise of standard
    deviation ``noise``.

    Parameters
    ----------
    n_images, size : int
    rank : int
        Rank of the background's smooth part.
    targets : (int, int)
        Least and most targets per image.
    contrast, clutter, noise : float
        On the scale of a background in [0, 1].
    seed : None, int or numpy.random.Generator
    """
    n_images = check_int("n_images", n_images, 1)
    size = check_int("size", size, 8)
    rank = check_int("rank", rank, 1, size)
    low = check_int("targets[0]", targets[0], 0)
    high = check_int("targets[1]", targets[1], low)
    contrast = check_real("contrast", contrast, 0.0, low_open=True)
    clutter = check_real("clutter", clutter, 0.0)
    noise = check_real("noise", noise, 0.0)
    rng = as_generator(seed)
    grid = np.arange(size) / size
    frequencies = np.arange(1, 4)
    images = np.empty((n_images, size, size))
    masks = np.zeros((n_images, size, size), dtype=bool)
    backgrounds = np.empty((n_images, size, size))
    for i in range(n_images):
        profiles = [np.cos(np.pi * np.outer(grid, frequencies) + rng.uniform(0, np.pi, 3))
                    @ rng.standard_normal((3, rank)) + rng.uniform(1, 2, rank)
                    for _ in range(2)]
        smooth = profiles[0] @ profiles[1].T
        smooth = (smooth - smooth.min()) / (np.ptp(smooth) or 1.0)
        background = smooth + clutter * gaussian_filter(rng.standard_normal((size, size)),
                                                        1.5) * 4.0
        target_layer = np.zeros((size, size))
        for _ in range(rng.integers(low, high + 1)):
            centre = rng.uniform(2, size - 2, 2)
            width = rng.uniform(0.5, 1.3)
            peak = contrast * rng.uniform(0.6, 1.0)
            blob = np.exp(-((grid[:, None] * size - centre[0]) ** 2
                            + (grid[None, :] * size - centre[1]) ** 2) / (2 * width ** 2))
            target_layer = np.maximum(target_layer, peak * blob)
            masks[i] |= blob > MASK_LEVEL
        image = background + target_layer + noise * rng.standard_normal((size, size))
        lo, span = image.min(), np.ptp(image) or 1.0
        images[i] = (image - lo) / span
        backgrounds[i] = (background - lo) / span
    return TargetImages(images.astype(np.float32), masks, backgrounds.astype(np.float32))
