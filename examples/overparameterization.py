"""Paper 1 (Xiong, Ding & Du, ICLR 2024): how over-parameterisation slows GD down.

Four panels: symmetric vs asymmetric, exact (k = r) vs over-parameterised (k = 2r),
init scale 1e-3 vs 1e-1, and plain GD vs the one-step rebalancing fix.
Saves ``overparameterization.png`` (or the path given as the first argument).
"""

import sys
import warnings

import lrkit
from lrkit.plotting import plot_convergence


def main(path="overparameterization.png"):
    warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
    asym = lrkit.problems.sensing(40, 30, rank=2, m=900, seed=0)
    sym = lrkit.problems.sensing(30, 30, rank=2, m=900, symmetric=True, seed=0)

    def run(prob, k, **kwargs):
        return lrkit.recover(prob.operator, prob.y, k, truth=prob.truth, seed=0, **kwargs)

    panels = {
        "symmetric X Xᵀ: exact vs over-parameterised (Ω(1/T²))": {
            "k = r = 2": run(sym, 2, parameterization="symmetric"),
            "k = 4": run(sym, 4, parameterization="symmetric"),
        },
        "asymmetric F Gᵀ: exact vs over-parameterised": {
            "k = r = 2": run(asym, 2),
            "k = 4": run(asym, 4),
        },
        "asymmetric k = 4: rate exp(-Ω(α² T)) depends on init scale α": {
            f"α = {a:g}": run(asym, 4, init_scale=a) for a in (1e-3, 1e-2, 1e-1)
        },
        "asymmetric k = 4: the one-step fix removes the α dependence": {
            **{f"GD, α = {a:g}": run(asym, 4, init_scale=a) for a in (1e-3, 1e-1)},
            **{f"one-step, α = {a:g}": run(asym, 4, method="gd_onestep", init_scale=a)
               for a in (1e-3, 1e-1)},
        },
    }
    plot_convergence(panels, path, title="Paper 1: over-parameterised matrix sensing")
    for name, curves in panels.items():
        print(name)
        for label, res in curves.items():
            print(f"  {label:22s} rel. error {res.rel_error:.2e} after {res.n_iter} iterations")
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
