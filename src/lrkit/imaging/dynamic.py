"""Dynamic imaging: an image sequence from under-sampled measurements, as low rank plus
spatial and temporal total variation, by the primal–dual algorithm (paper 25).

With ``X`` the Casorati matrix (column t is frame t), the reconstruction solves

    min_X  ½ ||A(X) − y||² + λ_* ||X||_* + λ_s ||∇_s X||_1 + λ_t ||∇_t X||_1,

``∇_s`` the forward differences inside each frame (anisotropic TV), ``∇_t`` those between
consecutive frames. Chambolle & Pock's algorithm (2011, Alg. 1, θ = 1) with
``K = [A; ∇_s; ∇_t]`` and ``τ = σ = 1/L``, ``L² = ||A||² + 4·dims + 4 >= ||K||²``:

    p_y ← (p_y + σ (A x̄ − y)) / (1 + σ),   p_s ← clip(p_s + σ ∇_s x̄, ±λ_s),
    p_t ← clip(p_t + σ ∇_t x̄, ±λ_t),
    x⁺ ← SVT_{τ λ_*}(x − τ (A* p_y + ∇_sᵀ p_s + ∇_tᵀ p_t)),   x̄ ← 2 x⁺ − x.

The duality gap is computed every iteration from the dual point scaled into the nuclear
norm's dual ball (``||Kᵀ p||₂ <= λ_*``), so it bounds the distance to the optimal
objective; the run stops when it falls below ``tol`` times the objective.
"""

from __future__ import annotations

import math

import numpy as np

from lrkit._validation import check_int, check_real
from lrkit.recovery.harness import Run
from lrkit.result import Status

#: Sampled fraction of k-space at which the default weights are the grid's best as given.
REFERENCE_SAMPLING = 1 / 8


def recover_dynamic(operator, y, *, lam_nuclear=None, lam_space=None, lam_time=None,
                    max_iter=500, tol=1e-4, truth=None, callback=None):
    """Reconstruct an image sequence from sub-sampled measurements (low rank + TV).

    Parameters
    ----------
    operator : SensingOperator with ``frame_shape``
        E.g. :class:`lrkit.operators.SubsampledFourier`; ``X`` is ``pixels × frames``.
    y : array_like, shape (m,)
    lam_nuclear, lam_space, lam_time : float >= 0, optional
        Weights of the nuclear norm and of the spatial and temporal total variation.
        Defaults, relative to the zero-filled image ``X₀ = A*(y)`` and the sampled fraction
        ``p`` of k-space (``operator.isotropy``): ``λ_* = 0.0025 ||X₀||₂ / (8p)``,
        ``λ_s = 3·10⁻⁴ max|X₀| / (8p)``, ``λ_t = 0.01 max|X₀| / (8p)``. ``X₀`` scales
        with ``p``, so the weights scale with the image while the data term's curvature
        (``A*A ≈ p I``) falls with ``p``: sparser sampling, stronger priors. Chosen on a grid
        on the benchmark's video at 4× and 8× under-sampling (at 4× total variation alone
        did better still; see ``docs/benchmarks.md``). Zero switches a term off.
    max_iter : int
    tol : float
        Stop when the duality gap is below ``tol`` times the primal objective.
    truth : array_like, optional
        Records ``history["rel_error"]``.
    callback : callable(IterationInfo), optional

    Returns
    -------
    RecoveryResult
        ``factors`` from the last singular value thresholding; ``history`` adds ``gap``.

    Examples
    --------
    >>> import lrkit
    >>> from lrkit.operators import SubsampledFourier, cartesian_masks
    >>> video = lrkit.problems.datasets.frame_sequence(n_frames=12, size=24, patch=5)
    >>> op = SubsampledFourier(video.frame_shape, cartesian_masks(video.frame_shape, 12, 4,
    ...                                                         seed=0))
    >>> result = lrkit.recover_dynamic(op, op.forward(video.matrix), max_iter=300)
    >>> bool(lrkit.relative_error(result.estimate, video.matrix) < 0.1)
    True
    """
    frame_shape = getattr(operator, "frame_shape", None)
    if frame_shape is None:
        raise ValueError("operator must describe frames (frame_shape), e.g. "
                         "lrkit.operators.SubsampledFourier")
    y = np.asarray(y, dtype=float).reshape(-1)
    operator._check_measurements(y)
    if not np.all(np.isfinite(y)):
        raise ValueError("y has NaN or inf entries")
    check_int("max_iter", max_iter, 1)
    tol = check_real("tol", tol, low=0.0)
    zero_filled = operator.adjoint(y)
    peak = float(np.abs(zero_filled).max())
    spectral = float(np.linalg.norm(zero_filled, 2)) if peak else 0.0
    sparsity = REFERENCE_SAMPLING / getattr(operator, "isotropy", REFERENCE_SAMPLING)
    lam_nuclear = _weight("lam_nuclear", lam_nuclear, 0.0025 * spectral * sparsity)
    lam_space = _weight("lam_space", lam_space, 3e-4 * peak * sparsity)
    lam_time = _weight("lam_time", lam_time, 0.01 * peak * sparsity)
    if truth is not None:
        truth = np.asarray(truth, dtype=float)
        operator._check_matrix(truth)
    run = Run("primal_dual", max_iter=max_iter, truth=truth, callback=callback)
    gradients = _Gradients(frame_shape, operator.shape[1])
    step = 1.0 / math.sqrt(1.0 + gradients.norm_squared)
    x = zero_filled.copy()
    x_bar = x.copy()
    p_y = np.zeros_like(y)
    p_s = np.zeros((len(frame_shape), *x.shape))
    p_t = np.zeros_like(x)
    parts = _svt(x, 0.0)
    for _ in run.iterations():
        p_y = (p_y + step * (operator.forward(x_bar) - y)) / (1.0 + step)
        p_s = np.clip(p_s + step * gradients.space(x_bar), -lam_space, lam_space)
        p_t = np.clip(p_t + step * gradients.time(x_bar), -lam_time, lam_time)
        dual_image = (operator.adjoint(p_y) + gradients.space_adjoint(p_s)
                      + gradients.time_adjoint(p_t))
        parts = _svt(x - step * dual_image, step * lam_nuclear)
        x_new = (parts[0] * parts[1]) @ parts[2]
        x_bar = 2.0 * x_new - x
        change = float(np.linalg.norm(x_new - x)) / max(float(np.linalg.norm(x_new)), 1e-300)
        x = x_new
        primal = _primal(operator, gradients, x, y, parts[1], lam_nuclear, lam_space, lam_time)
        gap = primal - _dual(p_y, y, dual_image, lam_nuclear)
        root = np.sqrt(parts[1])
        if run.record(primal, (parts[0] * root, parts[2].T * root), change=change, estimate=x,
                      gap=gap):
            break
        if gap <= tol * max(primal, 1e-300):
            run.stop(Status.CONVERGED, f"duality gap below tol={tol:g} of the objective")
    root = np.sqrt(parts[1])
    return run.result((parts[0] * root, parts[2].T * root))


def _weight(name, value, default):
    return default if value is None else check_real(name, value, low=0.0)


def _svt(X, threshold):
    """``U (Σ − threshold)₊ Vᵀ`` as its parts ``(U_r, σ_r, V_rᵀ)``."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    kept = int(np.count_nonzero(s > threshold))
    return U[:, :kept], s[:kept] - threshold, Vt[:kept]


def _primal(operator, gradients, x, y, singular_values, lam_nuclear, lam_space, lam_time):
    residual = operator.forward(x) - y
    return float(0.5 * residual @ residual + lam_nuclear * singular_values.sum()
                 + lam_space * np.abs(gradients.space(x)).sum()
                 + lam_time * np.abs(gradients.time(x)).sum())


def _dual(p_y, y, dual_image, lam_nuclear):
    """``−F*(p̂)`` at the dual point scaled into ``||Kᵀ p̂||₂ <= λ_*`` (the TV boxes are
    symmetric, so scaling keeps them)."""
    norm = float(np.linalg.norm(dual_image, 2))
    scale = 1.0 if norm <= lam_nuclear else lam_nuclear / norm
    p = scale * p_y
    return float(-(0.5 * p @ p + p @ y))


class _Gradients:
    """Forward differences inside frames (``space``) and between frames (``time``), with
    zero at the far boundary, and their adjoints (negative divergences)."""

    def __init__(self, frame_shape, n_frames):
        self.frame_shape, self.n_frames = tuple(frame_shape), n_frames
        self.norm_squared = 4.0 * len(self.frame_shape) + 4.0  # bounds ||∇_s||² + ||∇_t||²

    def _frames(self, x):
        return x.T.reshape(self.n_frames, *self.frame_shape)

    def _matrix(self, frames):
        return frames.reshape(self.n_frames, -1).T

    def space(self, x):
        frames = self._frames(x)
        out = np.zeros((len(self.frame_shape), *x.shape))
        for axis in range(len(self.frame_shape)):
            difference = np.zeros_like(frames)
            moved = np.moveaxis(difference, axis + 1, 0)
            moved[:-1] = np.diff(np.moveaxis(frames, axis + 1, 0), axis=0)
            out[axis] = self._matrix(difference)
        return out

    def space_adjoint(self, p):
        total = np.zeros((self.n_frames, *self.frame_shape))
        for axis in range(len(self.frame_shape)):
            field = np.moveaxis(self._frames(p[axis]), axis + 1, 0)
            adjoint = np.zeros_like(field)
            adjoint[:-1] -= field[:-1]
            adjoint[1:] += field[:-1]
            total += np.moveaxis(adjoint, 0, axis + 1)
        return self._matrix(total)

    def time(self, x):
        out = np.zeros_like(x)
        out[:, :-1] = np.diff(x, axis=1)
        return out

    def time_adjoint(self, p):
        out = np.zeros_like(p)
        out[:, :-1] -= p[:, :-1]
        out[:, 1:] += p[:, :-1]
        return out
