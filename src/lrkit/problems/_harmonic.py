"""Multidimensional harmonics in noise: the single-snapshot sensing model of paper 4.

A radar or ISAC receiver that samples space (antennas), frequency (subcarriers) and time
(symbols) sees, for R point targets,

    X[m_1, …, m_N] = Σ_r α_r Π_n exp(i μ_{r,n} m_n) + noise,

a rank-R tensor whose factors are Vandermonde vectors; the spatial frequencies ``μ_{r,n}``
encode angle, range and Doppler. :meth:`HarmonicTensorProblem.crb` is the deterministic
Cramér–Rao bound of the ``μ`` for this model (Stoica & Nehorai 1989 form).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrkit._random import as_generator
from lrkit._validation import check_int, check_real


def vandermonde(frequencies, length):
    """Columns ``exp(i μ m)``, ``m = 0 … length − 1``, one per frequency."""
    return np.exp(1j * np.outer(np.arange(length), np.asarray(frequencies, dtype=float)))


def harmonic_sum(frequencies, amplitudes, shape):
    """The noiseless tensor ``Σ_r α_r ⊗_n a(μ_{r,n})`` of the given shape."""
    out = np.zeros(int(np.prod(shape)), dtype=complex)
    for mu, alpha in zip(np.asarray(frequencies, dtype=float), amplitudes, strict=True):
        out += alpha * _outer([np.exp(1j * m * np.arange(length))
                               for m, length in zip(mu, shape, strict=True)])
    return out.reshape(shape)


@dataclass
class HarmonicTensorProblem:
    """A noisy sum of R multidimensional harmonics with its ground truth.

    Attributes
    ----------
    tensor : numpy.ndarray, complex, shape ``shape``
        The observation (one snapshot).
    frequencies : numpy.ndarray, shape (R, N)
        ``μ_{r,n}`` in ``[−π, π)``.
    amplitudes : numpy.ndarray, complex, shape (R,)
    noise_std : float
        Standard deviation of the circular complex noise per entry (``E|z|² = σ²``).
    snr_db : float
        Mean signal power per entry over ``σ²``, in dB.
    """

    tensor: np.ndarray
    frequencies: np.ndarray
    amplitudes: np.ndarray
    noise_std: float
    snr_db: float

    def crb(self):
        """Cramér–Rao bound on the variance of each ``μ_{r,n}``, shape (R, N).

        With the amplitudes as nuisance parameters and circular noise of variance σ²,
        ``CRB(μ) = σ²/2 · [Re(Dᴴ P⊥_B D)]⁻¹``, where ``B`` holds the R vectorised rank-one
        harmonics and ``D`` their derivatives ``α_r ∂b_r/∂μ_{r,n}``.
        """
        rank, dims = self.frequencies.shape
        B, D = harmonic_jacobian(self.frequencies, self.amplitudes, self.tensor.shape)
        Q, _ = np.linalg.qr(B)
        D_perp = D - Q @ (Q.conj().T @ D)
        fisher = np.real(D_perp.conj().T @ D_perp)
        return (self.noise_std ** 2 / 2 * np.diag(np.linalg.inv(fisher))).reshape(rank, dims)


def harmonic_jacobian(frequencies, amplitudes, shape):
    """The vectorised rank-one harmonics and their derivatives in each frequency.

    Returns ``B`` (prod(shape) × R), column r = ``vec(⊗_n a(μ_{r,n}))``, and ``D``
    (prod(shape) × RN), column ``rN + n`` = ``α_r ∂B[:, r]/∂μ_{r,n}`` (``a_n`` replaced by
    ``i m ⊙ a_n``).
    """
    basis, derivatives = [], []
    for mu, alpha in zip(np.asarray(frequencies, dtype=float), amplitudes, strict=True):
        factors = [np.exp(1j * mu[n] * np.arange(length)) for n, length in enumerate(shape)]
        basis.append(_outer(factors))
        for n, length in enumerate(shape):
            ramped = list(factors)
            ramped[n] = 1j * np.arange(length) * factors[n]
            derivatives.append(alpha * _outer(ramped))
    return np.stack(basis, axis=1), np.stack(derivatives, axis=1)


def _outer(vectors):
    out = vectors[0]
    for v in vectors[1:]:
        out = np.multiply.outer(out, v)
    return out.ravel()


def harmonic_tensor(shape=(16, 16, 16), rank=3, snr_db=20.0, separation=1.0,
                    seed=None) -> HarmonicTensorProblem:
    """R unit-modulus harmonics with random phases in circular complex Gaussian noise.

    Parameters
    ----------
    shape : tuple of int
        Samples per dimension (e.g. antennas, subcarriers, symbols); each at least 2.
    rank : int
        Number of targets R.
    snr_db : float
        Mean signal power per entry over the noise variance, in dB.
    separation : float
        Least distance between two targets' frequencies in every dimension, in DFT bins
        (``2π / shape[n]``); below 1 the targets are closer than the Fourier resolution.
    seed : None, int or numpy.random.Generator
    """
    shape = tuple(check_int("shape entry", s, 2) for s in shape)
    if not shape:
        raise ValueError("shape must have at least one dimension; got ()")
    rank = check_int("rank", rank, 1)
    snr_db = check_real("snr_db", snr_db)
    separation = check_real("separation", separation, 0.0)
    if rank * separation > min(shape):
        raise ValueError(f"rank * separation must be at most min(shape)={min(shape)} bins; "
                         f"got {rank} * {separation:g}; lower separation or rank")
    rng = as_generator(seed)
    columns = []
    for length in shape:
        gap = 2 * math.pi * separation / length
        for _ in range(1000):
            mu = np.sort(rng.uniform(-math.pi, math.pi, rank))
            circular = np.diff(np.concatenate([mu, mu[:1] + 2 * math.pi]))
            if rank == 1 or circular.min() >= gap:
                break
        else:  # pragma: no cover - 1000 failures at a feasible separation
            raise RuntimeError("could not place the frequencies; lower separation")
        columns.append(rng.permutation(mu))
    frequencies = np.stack(columns, axis=1)
    amplitudes = np.exp(2j * math.pi * rng.random(rank))
    clean = harmonic_sum(frequencies, amplitudes, shape)
    power = float(np.mean(np.abs(clean) ** 2))
    noise_std = math.sqrt(power / 10 ** (snr_db / 10))
    noise = noise_std / math.sqrt(2) * (rng.standard_normal(shape)
                                         + 1j * rng.standard_normal(shape))
    return HarmonicTensorProblem(clean + noise, frequencies, amplitudes, noise_std, snr_db)
