"""A seeded dynamic phantom for dynamic MRI: ellipses on a body outline, one of them
beating, one taking up contrast."""

from __future__ import annotations

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_int, check_real
from lrkit.problems.datasets import FrameSequence


def dynamic_phantom(n_frames=24, size=48, *, beats=2, texture=0.1, seed=0) -> FrameSequence:
    """A cardiac-perfusion-like image sequence: a body ellipse holding an organ that takes
    up contrast (its intensity follows a gamma-variate curve, rising to 2.5× its rest value
    and washing out) and a dark static ellipse, and a "heart" ellipse whose radii beat
    sinusoidally ``beats`` times over the sequence.

    Positions, orientations and the beat's phase are drawn from ``seed``; ``background`` is
    the anatomy at rest, ``foreground`` what changes (the uptake and the heart). ``texture``
    is the relative amplitude of what makes tissue more than flat ellipses: a smooth
    receive-coil shading (brightest on one side) times a random tissue texture
    (Gaussian-smoothed noise, correlation length about 2 pixels), both static;
    ``texture=0`` gives the flat, piecewise-constant cartoon.

    Returns
    -------
    FrameSequence
        ``matrix`` is ``size² × n_frames`` (column t is frame t), values in about ``[0, 1.5]``.
    """
    n_frames = check_int("n_frames", n_frames, 2)
    size = check_int("size", size, 8)
    beats = check_int("beats", beats, 0)
    texture = check_real("texture", texture, low=0.0, high=1.0)
    rng = as_generator(seed)
    rows, cols = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]

    def ellipse(center, radii, angle):
        c, s = np.cos(angle), np.sin(angle)
        u = (cols - center[0]) * c + (rows - center[1]) * s
        v = -(cols - center[0]) * s + (rows - center[1]) * c
        return ((u / radii[0]) ** 2 + (v / radii[1]) ** 2 <= 1.0).astype(float)

    jitter = lambda scale: rng.uniform(-scale, scale, 2)  # noqa: E731
    organ = 0.2 * ellipse(np.array([-0.35, 0.3]) + jitter(0.05), (0.25, 0.35),
                          rng.uniform(0, np.pi))
    anatomy = (0.5 * ellipse((0.0, 0.0), (0.85, 0.95), 0.0) + organ
               - 0.2 * ellipse(np.array([0.45, -0.4]) + jitter(0.05), (0.15, 0.12),
                               rng.uniform(0, np.pi)))
    heart_center = np.array([0.15, 0.1]) + jitter(0.05)
    heart_angle, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    tissue = _tissue(rows, cols, texture, rng)
    anatomy, organ = anatomy * tissue, organ * tissue
    time = np.linspace(0.0, 4.0, n_frames)
    uptake = 1.5 * (time * np.exp(1.0 - time))  # gamma variate, peak 1.5 at t = 1
    background = np.repeat(anatomy.reshape(-1, 1), n_frames, axis=1)
    foreground = np.zeros_like(background)
    for t in range(n_frames):
        radius = 0.22 + 0.06 * np.sin(2 * np.pi * beats * t / n_frames + phase)
        heart = 0.4 * ellipse(heart_center, (radius, 1.2 * radius), heart_angle)
        foreground[:, t] = (heart + uptake[t] * organ).ravel()
    return FrameSequence(background + foreground, background, foreground, (size, size))


def _tissue(rows, cols, amplitude, rng):
    """``(1 + a · shading) (1 + a · texture)``: a linear coil shading in a random direction
    and smoothed white noise scaled to unit peak, both of amplitude ``a``."""
    if not amplitude:
        return np.ones_like(rows)
    angle = rng.uniform(0, 2 * np.pi)
    shading = 0.5 * (np.cos(angle) * cols + np.sin(angle) * rows)
    spectrum = np.fft.fft2(rng.standard_normal(rows.shape))
    k_rows = np.fft.fftfreq(rows.shape[0])[:, None]
    k_cols = np.fft.fftfreq(rows.shape[1])[None, :]
    smooth = np.fft.ifft2(spectrum * np.exp(-(k_rows ** 2 + k_cols ** 2) * (2 * np.pi * 2) ** 2
                                            / 2)).real
    return (1 + amplitude * shading) * (1 + amplitude * smooth / np.abs(smooth).max())
