"""Learned k-space sub-sampling: Deep Probabilistic Sub-sampling (DPS, paper 37).

Huijben, Veeling & van Sloun (2020) learn *which* Fourier coefficients to measure jointly
with the network that reconstructs from them. The sampling pattern is a distribution over
the N coefficients with trainable logits ``φ``; a pattern of budget K is drawn without
replacement by the Gumbel-top-K trick,

    mask = top-K(φ + g),   g_n ~ Gumbel(0, 1) i.i.d.,

which is exact sampling of K distinct coefficients with probabilities ``softmax(φ)``
renormalised after each draw. The top-K is not differentiable; its relaxation is the sum of
K sequential tempered softmaxes, each with the coefficients already drawn masked out,

    m̃ = Σ_{k ≤ K} softmax((φ + g + log(1 − m̃_{<k})) / τ),

and training uses the hard mask forwards and the relaxed one backwards (straight-through).
After training the pattern is fixed to the K largest logits, the most probable pattern,
which a scanner can run as is (:meth:`LearnedSampling.operator`).

The reconstruction network takes the zero-filled inverse FFT (real and imaginary parts) and
refines it with a residual convolutional network; the loss is the mean-squared error.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lrkit._random import as_generator
from lrkit._validation import check_int, check_real
from lrkit.nn.loop import epoch_order, per_epoch_report, train_steps

#: Learning rate of the sampling logits relative to the network's (DPS trains them faster).
LOGIT_LR_FACTOR = 100.0
#: Share of the epochs, at the end, that train the network on the fixed most probable
#: pattern (the one it will be used with) instead of on random draws.
FINE_TUNE_FRACTION = 0.25


class LearnedSampling(nn.Module):
    """A trainable k-space sampling pattern and the network that reconstructs from it.

    Parameters
    ----------
    shape : (int, int)
        Image shape; the pattern chooses among its ``h · w`` Fourier coefficients.
    budget : int
        Coefficients measured per image, K.
    mask : array_like of bool, optional
        A fixed pattern instead of a learned one (the baselines:
        :func:`lrkit.operators.kspace_mask`), with exactly ``budget`` True entries in
        unshifted FFT layout.
    channels, depth : int
        Width and number of hidden convolutions of the reconstruction network.
    temperature : float
        τ of the relaxed top-K.
    seed : int
        Initial weights and logits.

    Examples
    --------
    >>> import lrkit.nn as lnn                                          # doctest: +SKIP
    >>> from lrkit.problems.datasets import mnist_digits  # doctest: +SKIP
    >>> images, _ = mnist_digits()  # doctest: +SKIP
    >>> dps = lnn.LearnedSampling((28, 28), budget=78)  # doctest: +SKIP
    >>> dps.fit(images[:4000], epochs=10)  # doctest: +SKIP
    >>> error = dps.error(images[4000:])  # doctest: +SKIP
    >>> pattern = dps.mask  # doctest: +SKIP
    """

    def __init__(self, shape, budget, *, mask=None, channels=32, depth=4, temperature=2.0,
                 seed=0):
        super().__init__()
        if len(tuple(shape)) != 2:
            raise ValueError(f"shape must be (height, width); got {tuple(shape)!r}")
        self.shape = tuple(check_int("shape entry", s, 2) for s in shape)
        size = self.shape[0] * self.shape[1]
        self.budget = check_int("budget", budget, 1, size, "h*w")
        self.temperature = check_real("temperature", temperature, 0.0, low_open=True)
        channels, depth = check_int("channels", channels, 1), check_int("depth", depth, 1)
        state = torch.random.get_rng_state()
        torch.manual_seed(check_int("seed", seed, 0))
        if mask is None:
            self.logits = nn.Parameter(0.1 * torch.randn(size))
            self.register_buffer("fixed_mask", None)
        else:
            mask = np.asarray(mask)
            if mask.shape != self.shape or mask.dtype != bool or mask.sum() != self.budget:
                raise ValueError(f"mask must be booleans of shape {self.shape} with budget="
                                 f"{self.budget} True entries; got {mask.dtype} {mask.shape} "
                                 f"with {int(np.sum(mask))}")
            self.logits = None
            self.register_buffer("fixed_mask", torch.as_tensor(mask.ravel(), dtype=torch.float32))
        layers = [nn.Conv2d(2, channels, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.refine = nn.Sequential(*layers)
        torch.random.set_rng_state(state)
        self._noise = torch.Generator().manual_seed(seed)
        self._frozen = False

    @property
    def learned(self):
        return self.logits is not None

    @property
    def mask(self):
        """The sampling pattern in use after training: (h, w) booleans, unshifted layout."""
        return self._pattern().reshape(self.shape).numpy().astype(bool)

    def _pattern(self):
        if not self.learned:
            return self.fixed_mask
        pattern = torch.zeros_like(self.logits.detach())
        pattern[torch.topk(self.logits.detach(), self.budget).indices] = 1.0
        return pattern

    def _sampled_pattern(self):
        """Gumbel-top-K draw: hard forwards, relaxed sequential softmaxes backwards."""
        uniform = torch.rand(self.logits.shape, generator=self._noise).clamp(1e-10, 1 - 1e-10)
        perturbed = self.logits - torch.log(-torch.log(uniform))
        hard = torch.zeros_like(perturbed)
        hard[torch.topk(perturbed.detach(), self.budget).indices] = 1.0
        relaxed = torch.zeros_like(perturbed)
        for _ in range(self.budget):
            free = torch.log((1.0 - relaxed).clamp_min(1e-10))
            relaxed = relaxed + F.softmax((perturbed + free) / self.temperature, dim=0)
        return hard + relaxed - relaxed.detach()

    def forward(self, images):
        """Reconstructions of ``images`` (n, h, w) from their sub-sampled k-space: a fresh
        random pattern per batch while training, the fixed most probable one otherwise."""
        sampling = self.training and self.learned and not self._frozen
        pattern = self._sampled_pattern() if sampling else self._pattern()
        kspace = torch.fft.fft2(images, norm="ortho") * pattern.reshape(self.shape)
        zero_filled = torch.fft.ifft2(kspace, norm="ortho")
        stacked = torch.stack([zero_filled.real, zero_filled.imag], dim=1)
        return zero_filled.real + self.refine(stacked).squeeze(1)

    def fit(self, images, *, epochs=10, batch_size=64, lr=1e-3, seed=0, progress=None):
        """Train the pattern (if learned) and the network on ``images`` (n, h, w) with Adam
        on the mean-squared reconstruction error; the logits learn ``LOGIT_LR_FACTOR``
        times faster. Returns the :class:`~lrkit.nn.loop.TrainingHistory` (``epoch_losses``:
        the mean per epoch)."""
        images = self._as_images(images)
        epochs = check_int("epochs", epochs, 1)
        batch_size = check_int("batch_size", batch_size, 1)
        lr = check_real("lr", lr, 0.0, low_open=True)
        groups = [{"params": self.refine.parameters(), "lr": lr}]
        if self.learned:
            groups.append({"params": [self.logits], "lr": LOGIT_LR_FACTOR * lr})
        order_rng = as_generator(seed)
        per_epoch = -(-len(images) // batch_size)
        frozen_from = epochs - round(FINE_TUNE_FRACTION * epochs)
        position = epoch_order(
            per_epoch, lambda: torch.as_tensor(order_rng.permutation(len(images))))

        def compute(step):
            epoch, within, order = position(step)
            self._frozen = epoch >= frozen_from
            batch = images[order[within * batch_size:(within + 1) * batch_size]]
            return F.mse_loss(self(batch), batch)

        try:
            history = train_steps(self, compute, epochs * per_epoch,
                                  optimizer=torch.optim.Adam(groups), steps_per_epoch=per_epoch,
                                  callback=per_epoch_report(progress, per_epoch), progress=False)
        finally:
            self._frozen = False
        self.eval()
        return history

    @torch.no_grad()
    def reconstruct(self, images, batch_size=512):
        """Reconstructions (NumPy) of ``images`` measured with the fixed pattern."""
        images = self._as_images(images)
        was_training = self.training
        self.eval()
        out = torch.cat([self(images[s:s + batch_size])
                         for s in range(0, len(images), batch_size)])
        self.train(was_training)
        return out.numpy()

    def error(self, images):
        """Mean-squared error per pixel of :meth:`reconstruct` on ``images``."""
        return float(np.mean((self.reconstruct(images) - np.asarray(images)) ** 2))

    def operator(self):
        """The fixed pattern as an :class:`lrkit.operators.SubsampledFourier` (one frame),
        for lrkit's model-based solvers."""
        from lrkit.operators import SubsampledFourier

        return SubsampledFourier(self.shape, self.mask[None])

    def _as_images(self, images):
        images = torch.as_tensor(np.asarray(images, dtype=np.float32))
        if images.dim() != 3 or tuple(images.shape[1:]) != self.shape or len(images) == 0:
            raise ValueError(f"images must be a non-empty (n, {self.shape[0]}, "
                             f"{self.shape[1]}) stack; got shape {tuple(images.shape)}")
        if not torch.isfinite(images).all():
            raise ValueError("images contain NaN or inf; clean them first")
        return images

