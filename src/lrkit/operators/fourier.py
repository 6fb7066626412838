"""Sub-sampled Fourier measurements of image sequences (dynamic MRI, ultrasound)."""

from __future__ import annotations

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_choice, check_int, check_real
from lrkit.operators.base import SensingOperator


class SubsampledFourier(SensingOperator):
    """``A(X)``: the k-space samples of every frame of an image sequence.

    ``X`` is the Casorati matrix of a sequence: column ``t`` is frame ``t`` flattened
    (``n1 = prod(frame_shape)`` pixels, ``n2`` frames). Frame ``t`` is transformed by the
    orthonormal 1-D or 2-D FFT and sampled where ``masks[t]`` is True; the complex samples
    are returned as real numbers, real parts first, so that ``<A(X), y> = <X, A*(y)>``
    holds in the real inner product and every solver of lrkit applies:

        A(X) = [Re P F x_t ; Im P F x_t]_t,   A*(y) = Re F^H Pᵀ (y_re + i y_im).

    Parameters
    ----------
    frame_shape : tuple of one or two ints
    masks : array_like of bool, shape ``(n_frames, *frame_shape)``
        Sampled k-space locations per frame (unshifted FFT layout: index 0 is the zero
        frequency).
    """

    capabilities = frozenset({"fourier"})

    def __init__(self, frame_shape, masks):
        super().__init__()
        frame_shape = tuple(int(n) for n in np.atleast_1d(frame_shape))
        if len(frame_shape) not in (1, 2) or min(frame_shape) < 1:
            raise ValueError(f"frame_shape must be one or two positive ints; got {frame_shape}")
        masks = np.asarray(masks)
        if masks.dtype != bool or masks.shape[1:] != frame_shape:
            raise ValueError(f"masks must be booleans of shape (n_frames, {frame_shape}); got "
                             f"{masks.dtype} {masks.shape}")
        if not masks.any():
            raise ValueError("masks sample nothing: at least one k-space location is needed")
        self.frame_shape, self.masks = frame_shape, masks
        self.axes = tuple(range(1, 1 + len(frame_shape)))
        self.samples = int(masks.sum())
        self.shape = (int(np.prod(frame_shape)), masks.shape[0])
        self.m = 2 * self.samples
        self.isotropy = self.samples / masks.size

    def forward(self, X):
        self._check_matrix(X)
        frames = np.asarray(X).T.reshape(-1, *self.frame_shape)
        samples = np.fft.fftn(frames, axes=self.axes, norm="ortho")[self.masks]
        return np.concatenate([samples.real, samples.imag])

    def adjoint(self, y):
        self._check_measurements(y)
        spectrum = np.zeros(self.masks.shape, dtype=complex)
        spectrum[self.masks] = y[:self.samples] + 1j * y[self.samples:]
        frames = np.fft.ifftn(spectrum, axes=self.axes, norm="ortho").real
        return frames.reshape(self.shape[1], -1).T

    def __repr__(self) -> str:
        return (f"SubsampledFourier(frame_shape={self.frame_shape}, frames={self.shape[1]}, "
                f"sampled={self.isotropy:.1%})")


def cartesian_masks(frame_shape, n_frames, acceleration, *, center=4, seed=None):
    """Cartesian under-sampling: per frame, a random set of whole k-space rows (phase
    encodes), ``1/acceleration`` of them, always including the ``center`` lowest
    frequencies; a new random set each frame (so the frames sample complementary rows).

    Returns
    -------
    numpy.ndarray of bool, shape ``(n_frames, *frame_shape)``
    """
    frame_shape = tuple(int(n) for n in np.atleast_1d(frame_shape))
    n_frames = check_int("n_frames", n_frames, 1)
    acceleration = check_real("acceleration", acceleration, low=1.0)
    rows = frame_shape[0]
    center = check_int("center", center, 0, rows, high_label="the number of k-space rows")
    rng = as_generator(seed)
    lows = np.r_[0:(center + 1) // 2, rows - center // 2:rows] if center else np.zeros(0, int)
    wanted = max(int(round(rows / acceleration)), len(lows))
    others = np.setdiff1d(np.arange(rows), lows)
    masks = np.zeros((n_frames, *frame_shape), dtype=bool)
    for t in range(n_frames):
        chosen = np.r_[lows, rng.choice(others, wanted - len(lows), replace=False)]
        masks[t, chosen.astype(int)] = True
    return masks


def kspace_mask(frame_shape, budget, kind="random", *, seed=None):
    """A single-frame sampling pattern of exactly ``budget`` k-space locations.

    ``kind="random"``: uniformly random locations (the baseline of learned sampling);
    ``"lowpass"``: the ``budget`` lowest frequencies by radius ``|k|`` (ties broken by
    index), the pattern that keeps most of a natural image's energy.

    Returns
    -------
    numpy.ndarray of bool, shape ``frame_shape`` (unshifted FFT layout)
    """
    frame_shape = tuple(int(n) for n in np.atleast_1d(frame_shape))
    size = int(np.prod(frame_shape))
    budget = check_int("budget", budget, 1, size, high_label="the number of k-space locations")
    check_choice("kind", kind, ("random", "lowpass"))
    mask = np.zeros(size, dtype=bool)
    if kind == "random":
        mask[as_generator(seed).choice(size, budget, replace=False)] = True
    else:
        grids = np.meshgrid(*[np.fft.fftfreq(n) * n for n in frame_shape], indexing="ij")
        radius = np.sqrt(sum(g ** 2 for g in grids)).ravel()
        mask[np.argsort(radius, kind="stable")[:budget]] = True
    return mask.reshape(frame_shape)
