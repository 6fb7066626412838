"""The plots (lrkit.plotting) and the one Marchenko–Pastur density they draw."""

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from lrkit import plotting  # noqa: E402
from lrkit.approx.rank import marchenko_pastur_density, marchenko_pastur_median  # noqa: E402


@pytest.mark.parametrize("beta", [0.1, 0.5, 1.0])
def test_the_density_is_a_probability_with_mean_one(beta):
    grid = np.linspace(0, (1 + np.sqrt(beta)) ** 2, 400_001)[1:]
    density = marchenko_pastur_density(grid, beta)
    step = grid[1] - grid[0]
    assert np.sum(density) * step == pytest.approx(1.0, abs=2e-3)
    assert np.sum(grid * density) * step == pytest.approx(1.0, abs=2e-3)  # E[x] = 1
    median = marchenko_pastur_median(beta)
    assert np.sum(density[grid <= median]) * step == pytest.approx(0.5, abs=2e-3)


def test_the_plotted_density_matches_the_spectrum_of_noise():
    rng = np.random.default_rng(0)
    noise = 0.3
    W = noise * rng.standard_normal((400, 1000))
    eigenvalues = np.linalg.svd(W, compute_uv=False) ** 2
    # the fraction of eigenvalues below the law's median is one half
    beta, scale = 0.4, noise**2 * 1000
    assert np.mean(eigenvalues <= marchenko_pastur_median(beta) * scale) == pytest.approx(
        0.5, abs=0.03)
    grid = np.linspace(eigenvalues.min(), eigenvalues.max(), 20_000)
    mass = np.sum(plotting.marchenko_pastur_density(grid, W.shape, noise)) * (grid[1] - grid[0])
    assert mass == pytest.approx(1.0, abs=0.02)


def test_every_plot_writes_its_file(tmp_path):
    from lrkit.spectral import analyze

    rng = np.random.default_rng(1)
    result = SimpleNamespace(history={"rel_error": np.geomspace(1, 1e-6, 30)})
    report = analyze(rng.standard_normal((80, 120)) @ np.diag(np.linspace(1, 3, 120)))
    points = [SimpleNamespace(method=m, ratio=r, similarity=1 - r / 2)
              for m in ("svd", "whiten") for r in (0.2, 0.5)]
    paths = [
        plotting.plot_convergence({"problem": {"method": result}}, tmp_path / "a.png"),
        plotting.plot_esd({"W": report}, tmp_path / "b.png"),
        plotting.plot_quality_sweep(points, tmp_path / "c.png"),
        plotting.plot_training_curves({"run": list(np.linspace(3, 1, 40))}, tmp_path / "d.png"),
        plotting.plot_phase_transition({"m": ([1, 2, 3], [0, 0.5, 1])}, tmp_path / "e.png",
                                       xlabel="samples"),
        plotting.plot_error_curves({"m": ([1, 2, 3], [1, 0.1, 0.01])}, tmp_path / "f.png",
                                   xlabel="n"),
        plotting.plot_image_grid([[np.eye(8), np.ones((8, 8))]], ["a", "b"], tmp_path / "g.png"),
    ]
    for path in paths:
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
