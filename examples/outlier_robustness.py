"""Paper 3 (Ma & Fattahi 2022): the sub-gradient method on the ℓ1 loss tolerates outliers.

Relative error after recovery against the fraction of measurements replaced by gross
outliers, for the ℓ1 sub-gradient method (exact and over-parameterised rank) and for
least-squares GD. Saves ``outlier_robustness.png`` (or the path given as first argument).
"""

import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import lrkit  # noqa: E402


def main(path="outlier_robustness.png"):
    warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
    fractions = np.arange(0.0, 0.5, 0.05)
    runs = {"subgm, k = r = 2": ("subgm", 2), "subgm, k = 4": ("subgm", 4),
            "least-squares gd, k = 2": ("gd", 2)}
    errors = {label: [] for label in runs}
    for frac in fractions:
        prob = lrkit.problems.sensing(40, 30, 2, 1500, outlier_frac=frac, noise_std=1e-3, seed=0)
        for label, (method, k) in runs.items():
            res = lrkit.recover(prob.operator, prob.y, k, method=method, truth=prob.truth,
                                seed=0)
            errors[label].append(res.rel_error)
        print(f"outliers {frac:4.0%}: " + "  ".join(f"{k}: {v[-1]:.1e}" for k, v in errors.items()))
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in errors.items():
        ax.semilogy(100 * fractions, values, marker="o", label=label)
    ax.set_xlabel("measurements replaced by outliers (%)")
    ax.set_ylabel("relative error")
    ax.set_title("Paper 3: ℓ1 sub-gradient method vs least squares\n40×30, rank 2, m = 1500, "
                 "noise 1e-3")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
