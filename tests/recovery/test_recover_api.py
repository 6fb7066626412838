"""The recover() contract: results, stopping, seeds, callbacks, backends and bad input."""

import numpy as np
import pytest

import lrkit
from lrkit.recovery import IterationInfo


def test_result_fields(asym_problem):
    p = asym_problem
    res = lrkit.recover(p.operator, p.y, rank=4, method="gd", parameterization="asymmetric",
                        init_scale=1e-3, max_iter=3000, tol=1e-10, truth=p.truth, seed=0)
    F, G = res.factors
    assert F.shape == (40, 4) and G.shape == (30, 4)
    np.testing.assert_allclose(res.estimate, F @ G.T)
    assert len(res.history["loss"]) == len(res.history["step_size"]) == res.n_iter
    assert len(res.history["rel_error"]) == res.n_iter
    assert isinstance(res.message, str) and res.wall_time > 0
    assert "rel_error" in repr(res)


def test_no_truth_no_error_history(asym_problem):
    res = lrkit.recover(asym_problem.operator, asym_problem.y, rank=2, seed=0)
    assert "rel_error" not in res.history and np.isnan(res.rel_error)


def test_same_seed_same_result(asym_problem):
    p = asym_problem
    a = lrkit.recover(p.operator, p.y, rank=3, max_iter=50, seed=7)
    b = lrkit.recover(p.operator, p.y, rank=3, max_iter=50, seed=7)
    c = lrkit.recover(p.operator, p.y, rank=3, max_iter=50, seed=8)
    np.testing.assert_array_equal(a.estimate, b.estimate)
    assert not np.array_equal(a.estimate, c.estimate)


def test_max_iter_warns_and_reports(asym_problem):
    p = asym_problem
    with pytest.warns(lrkit.ConvergenceWarning, match="max_iter=5"):
        res = lrkit.recover(p.operator, p.y, rank=2, max_iter=5, seed=0)
    assert res.n_iter == 5 and not res.converged and "max_iter" in res.message


def test_callback_sees_iterations_and_can_stop(asym_problem):
    seen = []

    def callback(info):
        assert isinstance(info, IterationInfo)
        seen.append(info.iteration)
        if info.iteration == 7:
            raise StopIteration

    res = lrkit.recover(asym_problem.operator, asym_problem.y, rank=2, callback=callback, seed=0)
    assert seen == list(range(1, 8)) and res.n_iter == 7
    assert not res.converged and res.message == "stopped by callback"


def test_divergence_is_reported_not_returned_as_nan(asym_problem):
    p = asym_problem
    res = lrkit.recover(p.operator, p.y, rank=2, step_size=50.0, truth=p.truth, seed=0)
    assert not res.converged and res.message.startswith("diverged")
    assert np.all(np.isfinite(res.estimate))


def test_diverging_default_step_is_backed_off(asym_problem, monkeypatch):
    from lrkit.recovery import factored

    monkeypatch.setattr(factored, "GD_STEP", 40.0)
    p = asym_problem
    res = lrkit.recover(p.operator, p.y, rank=2, truth=p.truth, seed=0)
    assert res.rel_error < 1e-8 and "halved" in res.message


def test_torch_tensors_in_and_out(asym_problem):
    torch = pytest.importorskip("torch")
    p = asym_problem
    y = torch.as_tensor(p.y)
    res = lrkit.recover(p.operator, y, rank=2, method="scaled_gd", truth=p.truth, seed=0)
    assert isinstance(res.estimate, torch.Tensor) and isinstance(res.factors[0], torch.Tensor)
    reference = lrkit.recover(p.operator, p.y, rank=2, method="scaled_gd", seed=0)
    np.testing.assert_allclose(res.estimate.numpy(), reference.estimate, atol=1e-10)
    assert res.rel_error < 1e-8


@pytest.mark.parametrize("method", ["gd", "subgm"])
def test_torch_symmetric_and_sparse(method):
    torch = pytest.importorskip("torch")
    p = lrkit.problems.sensing(n1=20, n2=20, rank=1, m=400, symmetric=True, seed=1)
    res = lrkit.recover(p.operator, torch.as_tensor(p.y), rank=1, method=method,
                        parameterization="symmetric", truth=p.truth, seed=0)
    assert res.rel_error < 1e-6
    op = lrkit.operators.EntrySampling.random(30, 20, 300, seed=0)
    truth = lrkit.problems.low_rank_matrix(30, 20, 1, seed=0)
    res = lrkit.recover(op, torch.as_tensor(op.forward(truth)), rank=1, method="scaled_gd",
                        truth=truth, seed=0)
    assert isinstance(res.estimate, torch.Tensor) and res.rel_error < 1e-6


def test_array_api_strict_operators():
    xp = pytest.importorskip("array_api_strict")
    for op in (lrkit.operators.GaussianSensing(5, 4, 30, seed=0),
               lrkit.operators.RankOneSensing(5, 4, 30, seed=0)):
        X = np.random.default_rng(0).standard_normal((5, 4))
        out = op.forward(xp.asarray(X))
        np.testing.assert_allclose(np.from_dlpack(out), op.forward(X))
        back = op.adjoint(out)
        np.testing.assert_allclose(np.from_dlpack(back), op.adjoint(op.forward(X)))


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(y="nan"), "non-finite"),
        (dict(y="inf"), "non-finite"),
        (dict(y="short"), r"len\(y\)=899 does not match operator.m=900"),
        (dict(rank=0), r"rank must be an int in \[1, min\(n1, n2\)=30\]; got 0"),
        (dict(rank=31), r"rank must be an int in \[1, min\(n1, n2\)=30\]; got 31"),
        (dict(rank=2.5), "rank must be an int"),
        (dict(init_scale=-1e-3), "init_scale must be in"),
        (dict(init_scale=0.0), "init_scale must be in"),
        (dict(step_size=-1.0), "step_size"),
        (dict(method="newton"), "method must be one of 'gd', 'gd_onestep'"),
        (dict(parameterization="symmetric"), "parameterization='symmetric' needs a square"),
        (dict(init="zeros"), "init must be one of"),
        (dict(max_iter=0), "max_iter"),
        (dict(tol=-1.0), "tol"),
        (dict(truth="wrong"), "truth must have shape"),
        (dict(seed="abc"), "seed"),
    ],
)
def test_bad_input(asym_problem, change, match):
    p = asym_problem
    kwargs = dict(rank=2, max_iter=3, seed=0)
    y = p.y.copy()
    if change.get("y") == "nan":
        y[3] = np.nan
    elif change.get("y") == "inf":
        y[0] = np.inf
    elif change.get("y") == "short":
        y = y[:-1]
    kwargs.update({k: v for k, v in change.items() if k != "y"})
    if kwargs.get("truth") == "wrong":
        kwargs["truth"] = np.zeros((30, 40))
    with pytest.raises(ValueError, match=match):
        lrkit.recover(p.operator, y, **kwargs)


def test_symmetric_needs_symmetric_operator():
    op = lrkit.operators.GaussianSensing(10, 10, 100, seed=0)
    with pytest.raises(ValueError, match="symmetric A_i"):
        lrkit.recover(op, np.ones(100), rank=1, parameterization="symmetric")


def test_onestep_needs_asymmetric(sym_problem):
    with pytest.raises(ValueError, match="gd_onestep"):
        lrkit.recover(sym_problem.operator, sym_problem.y, rank=2, method="gd_onestep",
                      parameterization="symmetric")


def test_operator_type_checked():
    with pytest.raises(ValueError, match="SensingOperator"):
        lrkit.recover(np.eye(3), np.ones(3), rank=1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n1=10, n2=10, rank=11, m=50), "rank"),
        (dict(n1=10, n2=8, rank=2, m=50, symmetric=True), "n1 == n2"),
        (dict(n1=10, n2=10, rank=2, m=50, cond=0.5), "cond"),
        (dict(n1=10, n2=10, rank=2, m=50, outlier_frac=1.0), "outlier_frac"),
        (dict(n1=10, n2=10, rank=2, m=50, noise_std=-1), "noise_std"),
        (dict(n1=10, n2=10, rank=2, m=50, design="fourier"), "design"),
    ],
)
def test_problem_generator_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lrkit.problems.sensing(**kwargs)


def test_symmetric_factors_stay_one_array(sym_problem):
    """RecoveryResult documents ``F is G`` for X Xᵀ; it holds through the boundary."""
    res = lrkit.recover(sym_problem.operator, sym_problem.y, 2, parameterization="symmetric",
                        seed=0, max_iter=50)
    assert res.factors[0] is res.factors[1]
