"""Convergence plots (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations


def plot_convergence(panels, path, title=None):
    """Save relative error against iteration, one panel per problem, one curve per method.

    Parameters
    ----------
    panels : dict of str -> dict of str -> RecoveryResult
        ``{panel title: {curve label: result}}``; results need ``history["rel_error"]``.
    path : str or path-like
        Output image (PNG, PDF, ...).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(panels)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4 * rows), squeeze=False)
    for ax, (name, curves) in zip(axes.flat, panels.items(), strict=False):
        for label, result in curves.items():
            errors = result.history.get("rel_error")
            if errors is not None and len(errors):
                ax.semilogy(range(1, len(errors) + 1), errors, label=label)
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.set_ylabel("relative error ‖X − M*‖_F / ‖M*‖_F")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
