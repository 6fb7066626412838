"""Deep unrolled robust PCA for sparse object segmentation: RPCANet++ (paper 28).

Wu, Dai, Zhang, Ding, Yang, Cheng & Peng (2025) unfold the relaxed RPCA model

    min_{B, T}  R_low-rank(B) + λ R_sparse(T) + (μ/2) ||D − B − T||²_F

into K stages, each one pass of its alternating minimisation with the proximal operators
replaced by small convolutional networks:

- **Background approximation (BAM)**: ``B_k = (D_{k−1} − T_{k−1}) + P_B(D_{k−1} − T_{k−1})``,
  a residual proximal network for the low-rank prior. Its features are handed to the next
  stage's BAM (the memory-augmented module, MAM), so the background estimate does not
  restart from pixels at each stage.
- **Object extraction (OEM)**: ``X = T_{k−1} + D_{k−1} − B_k``, a gradient step on the
  data term, then ``T_k = X − ε_k P_T(X, C(X))`` with a learned step ``ε_k``; ``C(X)`` is
  the deep contrast prior (DCPM), the local contrast ``X − mean_{7×7}(X)`` that marks small
  bright objects.
- **Image restoration (IRM)**: ``D_k = (B_k + T_k) + P_D(B_k + T_k)``, the restored image
  the next stage decomposes.

``T_K`` is trained to be the object mask (soft-IoU loss) and ``D_K`` to reproduce the input
(mean-squared error), so the network learns both the threshold that PCP's fixed ``λ`` sets
by hand and the shape of the objects.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lrkit._validation import check_int, check_real
from lrkit.nn.loop import epoch_order, per_epoch_report, train_steps

#: Window of the local-contrast prior (pixels).
CONTRAST_WINDOW = 7


def _conv_net(inputs, channels, depth, outputs):
    layers = [nn.Conv2d(inputs, channels, 3, padding=1), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers), nn.Conv2d(channels, outputs, 3, padding=1)


class _Stage(nn.Module):
    """One unrolled iteration: background, objects, restored image."""

    def __init__(self, channels, depth):
        super().__init__()
        self.background_body, self.background_out = _conv_net(1 + channels, channels, depth, 1)
        self.object_body, self.object_out = _conv_net(2, channels, depth, 1)
        self.restore_body, self.restore_out = _conv_net(1, channels, depth, 1)
        self.step = nn.Parameter(torch.tensor(0.1))

    def forward(self, D, T, memory):
        low_rank_input = D - T
        features = self.background_body(torch.cat([low_rank_input, memory], dim=1))
        B = low_rank_input + self.background_out(features)
        X = T + D - B
        contrast = X - F.avg_pool2d(X, CONTRAST_WINDOW, stride=1, padding=CONTRAST_WINDOW // 2,
                                    count_include_pad=False)
        T = X - self.step * self.object_out(self.object_body(torch.cat([X, contrast], dim=1)))
        merged = B + T
        D = merged + self.restore_out(self.restore_body(merged))
        return D, T, features


class RPCANet(nn.Module):
    """Deep unrolled robust PCA (RPCANet++) that segments small objects in images.

    Parameters
    ----------
    stages : int
        Unrolled iterations K.
    channels : int
        Width of each proximal network.
    depth : int
        Convolutions before each proximal network's output layer.
    seed : int
        Initialisation of the weights.

    Examples
    --------
    >>> import lrkit, lrkit.nn as lnn                                  # doctest: +SKIP
    >>> data = lrkit.problems.small_targets(512, seed=0)  # doctest: +SKIP
    >>> net = lnn.RPCANet()  # doctest: +SKIP
    >>> history = net.fit(data.images, data.masks, epochs=20, seed=0)  # doctest: +SKIP
    >>> masks = net.detect(lrkit.problems.small_targets(64, seed=1).images)  # doctest: +SKIP
    """

    def __init__(self, stages=4, channels=16, depth=2, seed=0):
        super().__init__()
        stages = check_int("stages", stages, 1)
        self.channels = check_int("channels", channels, 1)
        depth = check_int("depth", depth, 1)
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(check_int("seed", seed, 0))
        self.stages = nn.ModuleList(_Stage(self.channels, depth) for _ in range(stages))
        torch.random.set_rng_state(generator_state)

    def forward(self, images):
        """Object maps ``T_K`` and restored images ``D_K``, both shaped like ``images``.

        ``images``: a tensor (n, h, w) or (n, 1, h, w).
        """
        squeeze = images.dim() == 3
        D = images.unsqueeze(1) if squeeze else images
        T = torch.zeros_like(D)
        memory = D.new_zeros(D.shape[0], self.channels, *D.shape[2:])
        for stage in self.stages:
            D, T, memory = stage(D, T, memory)
        return (T.squeeze(1), D.squeeze(1)) if squeeze else (T, D)

    def fit(self, images, masks, *, epochs=30, batch_size=32, lr=2e-3,
            reconstruction_weight=0.1, seed=0, progress=None):
        """Train on images and their object masks with Adam.

        Loss: ``1 − soft-IoU(clip(T_K, 0, 1), mask) + w · mean((D_K − image)²)``; the step
        size follows a cosine schedule to zero.

        Parameters
        ----------
        images : array_like, (n, h, w)
        masks : array_like of bool, (n, h, w)
        epochs, batch_size : int
        lr : float
        reconstruction_weight : float
            ``w`` above.
        seed : int
            Order of the mini-batches.
        progress : callable(epoch, loss), optional
            Called after every epoch.

        Returns
        -------
        TrainingHistory
            ``losses`` per step, ``epoch_losses`` per epoch.
        """
        images, masks = _as_pair(images, masks)
        epochs = check_int("epochs", epochs, 1)
        batch_size = check_int("batch_size", batch_size, 1)
        lr = check_real("lr", lr, 0.0, low_open=True)
        weight = check_real("reconstruction_weight", reconstruction_weight, 0.0)
        generator = torch.Generator().manual_seed(check_int("seed", seed, 0))
        per_epoch = math.ceil(len(images) / batch_size)
        position = epoch_order(per_epoch,
                               lambda: torch.randperm(len(images), generator=generator))

        def compute(step):
            _, within, order = position(step)
            index = order[within * batch_size:(within + 1) * batch_size]
            T, D = self(images[index])
            return soft_iou_loss(T, masks[index]) + weight * F.mse_loss(D, images[index])

        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        history = train_steps(
            self, compute, epochs * per_epoch, optimizer=optimizer,
            schedule=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * per_epoch),
            steps_per_epoch=per_epoch, callback=per_epoch_report(progress, per_epoch),
            progress=False)
        self.eval()
        return history

    @torch.no_grad()
    def detect(self, images, threshold=0.5, batch_size=256):
        """Boolean object masks ``T_K > threshold`` of ``images`` (n, h, w), as NumPy."""
        images, _ = _as_pair(images, None)
        threshold = check_real("threshold", threshold)
        was_training = self.training
        self.eval()
        maps = [self(images[start:start + batch_size])[0]
                for start in range(0, len(images), batch_size)]
        self.train(was_training)
        return (torch.cat(maps) > threshold).numpy()


def soft_iou_loss(maps, masks):
    """``1 − Σ p·m / Σ (p + m − p·m)`` with ``p = clip(maps, 0, 1)``, over the batch."""
    p = maps.clamp(0.0, 1.0)
    intersection = (p * masks).sum()
    return 1.0 - intersection / ((p + masks).sum() - intersection).clamp_min(1e-6)


def _as_pair(images, masks):
    images = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if images.dim() != 3 or min(images.shape) == 0:
        raise ValueError(f"images must be a non-empty (n, h, w) stack; got shape "
                         f"{tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or inf; clean them first")
    if masks is None:
        return images, None
    masks = torch.as_tensor(np.asarray(masks, dtype=np.float32))
    if masks.shape != images.shape:
        raise ValueError(f"masks must have the shape of images {tuple(images.shape)}; got "
                         f"{tuple(masks.shape)}")
    return images, masks
