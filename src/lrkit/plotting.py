"""Plots (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(plt, n, width=6, height=4):
    cols = min(n, 2 if width == 6 else 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    return fig, axes


def _save(plt, fig, path, title=None):
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_convergence(panels, path, title=None):
    """Save relative error against iteration, one panel per problem, one curve per method.

    Parameters
    ----------
    panels : dict of str -> dict of str -> RecoveryResult
        ``{panel title: {curve label: result}}``; results need ``history["rel_error"]``.
    path : str or path-like
        Output image (PNG, PDF, ...).
    """
    plt = _pyplot()
    fig, axes = _grid(plt, len(panels))
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
    return _save(plt, fig, path, title)


def marchenko_pastur_density(eigenvalues, shape, noise):
    """Marchenko–Pastur density of the eigenvalues of WᵀW for an n1×n2 noise matrix W with
    entries of std ``noise``, evaluated at ``eigenvalues`` (the standard law of
    :func:`lrkit.approx.rank.marchenko_pastur_density`, rescaled)."""
    from lrkit.approx.rank import marchenko_pastur_density as standard

    small, large = sorted(shape)
    scale = noise**2 * large
    return standard(np.asarray(eigenvalues) / scale, small / large) / scale


def plot_esd(reports, path, title=None):
    """Save the empirical spectral density of each matrix on log-log axes, with the fitted
    power-law tail and the Marchenko–Pastur density of a noise matrix of the same shape and
    median-matched scale.

    Parameters
    ----------
    reports : dict of str -> SpectralReport
    path : str or path-like
    """
    from lrkit.approx.rank import noise_from_median

    plt = _pyplot()
    fig, axes = _grid(plt, len(reports), width=5, height=3.6)
    for ax, (name, report) in zip(axes.flat, reports.items(), strict=False):
        eig = report.singular_values[report.singular_values > 0] ** 2
        bins = np.geomspace(eig.min(), eig.max(), 60)
        ax.hist(eig, bins=bins, density=True, alpha=0.5, label="ESD")
        grid = np.geomspace(eig.min(), eig.max(), 400)
        noise = noise_from_median(report.singular_values, report.shape)
        ax.plot(grid, marchenko_pastur_density(grid, report.shape, noise), label="MP (noise)")
        tail = grid[grid >= report.alpha_xmin]
        n_tail = np.count_nonzero(eig >= report.alpha_xmin)
        if tail.size:
            a, x0 = report.alpha, report.alpha_xmin
            ax.plot(tail, (n_tail / eig.size) * (a - 1) / x0 * (tail / x0) ** -a,
                    label=f"power law α={a:.2f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{name} {report.shape[0]}×{report.shape[1]}", fontsize=9)
        ax.set_xlabel("eigenvalue of WᵀW")
        ax.legend(fontsize=7)
    return _save(plt, fig, path, title)


def plot_quality_sweep(points, path, title=None, ylabel="cosine similarity to the original"):
    """Quality against the fraction of parameters removed, one curve per method.

    ``points``: objects with ``method``, ``ratio`` and ``similarity`` attributes.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for method in dict.fromkeys(p.method for p in points):
        mine = sorted((p.ratio, p.similarity) for p in points if p.method == method)
        ax.plot(*zip(*mine, strict=True), marker="o", label=method)
    ax.set_xlabel("fraction of parameters removed (attention + MLP)")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(plt, fig, path, title)


def plot_training_curves(curves, path, title=None, window=10, xlabel="step"):
    """Training loss against step (or round: ``xlabel``), one curve per run (``curves``:
    name -> list of losses), smoothed by a ``window``-step running mean."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for index, (name, losses) in enumerate(curves.items()):
        losses = np.asarray(losses, dtype=float)
        width = max(1, min(window, len(losses)))
        smooth = np.convolve(losses, np.ones(width) / width, mode="valid")
        style = "-" if index < 10 else "--"  # past the 10 colours of the cycle, dashed
        ax.plot(np.arange(width, len(losses) + 1), smooth, lw=1.2, ls=style, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"training loss ({window}-{xlabel} mean)" if window > 1 else "training loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _save(plt, fig, path, title)


def plot_phase_transition(curves, path, xlabel, title=None):
    """Success rate against the number of measurements, one curve per method
    (``curves``: name -> (x values, success rates in [0, 1]))."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, (x, rates) in curves.items():
        ax.plot(x, rates, marker="o", lw=1.2, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(plt, fig, path, title)


def plot_error_curves(curves, path, xlabel, ylabel="relative error", title=None,
                      loglog=False, logy=False):
    """Error (or any measure) against a problem parameter, one curve per method
    (``curves``: name -> (x values, errors)); ``loglog`` for scaling laws, ``logy`` for
    errors against a parameter already in logarithmic units (dB)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, (x, errors) in curves.items():
        marker = "o" if len(x) <= 50 else None  # markers only where points are few
        draw = ax.loglog if loglog else ax.semilogy if logy else ax.plot
        draw(x, errors, marker=marker, lw=1.2, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(plt, fig, path, title)


def plot_image_grid(rows, columns, path, title=None):
    """Images in a grid, one row per example, one titled column per kind
    (``rows``: list of lists of 2-D arrays; ``columns``: the column titles)."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(2.2 * len(columns),
                                                               2.2 * len(rows)), squeeze=False)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            axes[r, c].imshow(np.asarray(image, dtype=float), cmap="gray")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(columns[c], fontsize=9)
    return _save(plt, fig, path, title)
