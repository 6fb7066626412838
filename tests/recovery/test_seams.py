"""The seams every solver, verb and layer plugs into: registry, harness, status, history."""

import types

import numpy as np
import pytest

import lrkit
from lrkit.recovery import Solver, get_solver, registry, solver_names
from lrkit.recovery.harness import Run
from lrkit.result import IterationInfo, Status

HISTORY_KEYS = {"loss", "step_size", "change", "time", "rel_error"}


def _namespaces():
    spaces = [pytest.param("numpy", id="numpy")]
    for name in ("array_api_strict", "torch"):
        spaces.append(pytest.param(name, id=name))
    return spaces


@pytest.fixture(params=_namespaces())
def xp(request):
    """An array namespace: NumPy, array_api_strict or PyTorch CPU (skipped if missing)."""
    if request.param == "numpy":
        return types.SimpleNamespace(name="numpy", asarray=np.asarray, module="numpy")
    module = pytest.importorskip(request.param)
    return types.SimpleNamespace(name=request.param, asarray=module.asarray,
                                 module=request.param)


def _is_from(array, xp):
    return type(array).__module__.split(".")[0] == xp.module


@pytest.mark.parametrize("method", [m for m in solver_names() if get_solver(m).array_api])
def test_array_api_solvers_run_in_the_input_namespace(xp, method):
    """Every solver the registry declares array-API-capable recovers in any namespace and
    returns arrays of that namespace."""
    prob = lrkit.problems.sensing(n1=20, n2=15, rank=2, m=400, seed=0)
    res = lrkit.recover(prob.operator, xp.asarray(prob.y), 2, method=method,
                        truth=xp.asarray(prob.truth), seed=0)
    assert res.converged and res.rel_error < 1e-8
    assert all(_is_from(f, xp) for f in res.factors)


@pytest.mark.parametrize("method", [m for m in solver_names() if not get_solver(m).array_api])
def test_numpy_only_solvers_convert_once_and_return_the_input_namespace(method):
    torch = pytest.importorskip("torch")
    prob = _problem_for(method, lrkit.problems.completion(n1=60, n2=50, rank=2, p_obs=0.5,
                                                          seed=0))
    res = lrkit.recover(prob.operator, torch.as_tensor(prob.y), 2, method=method,
                        truth=prob.truth, seed=0)
    assert isinstance(res.factors[0], torch.Tensor) and res.converged
    # the same numbers as the NumPy run: the seam converts, it does not change the solve
    on_numpy = lrkit.recover(prob.operator, prob.y, 2, method=method, truth=prob.truth, seed=0)
    np.testing.assert_allclose(res.estimate.numpy(), on_numpy.estimate, rtol=0,
                               atol=1e-12 * np.abs(on_numpy.estimate).max())
    assert res.rel_error == pytest.approx(on_numpy.rel_error, rel=1e-9)
    assert res.rel_error < ACCURACY.get(method, 1e-10)


def test_a_new_solver_is_one_registration(monkeypatch):
    """A solver declares its options; recover() validates them and runs it through the
    shared harness (history, status, result) with no edit to recover()."""

    def solve(run, operator, y, rank, options, rng):
        F = np.full((operator.shape[0], rank), options["value"])
        G = np.ones((operator.shape[1], rank))
        for _ in run.iterations():
            run.record(0.0, (F, G), change=0.0)
            run.stop(Status.CONVERGED, "constant")
        return run.result((F, G))

    toy = Solver("toy", solve, {"value": registry.Option(1.0, registry.real(0.0))},
                 summary="a constant")
    monkeypatch.setitem(registry._SOLVERS, "toy", toy)
    prob = lrkit.problems.sensing(n1=6, n2=5, rank=1, m=40, seed=0)
    res = lrkit.recover(prob.operator, prob.y, 1, method="toy", value=2.0)
    assert res.status is Status.CONVERGED and res.n_iter == 1 and res.method == "toy"
    assert np.all(res.estimate == 2.0) and set(res.history) == HISTORY_KEYS - {"rel_error"}
    with pytest.raises(ValueError, match="value must be in"):
        lrkit.recover(prob.operator, prob.y, 1, method="toy", value=-1.0)
    with pytest.raises(ValueError, match="takes no option ridge; its options are: value"):
        lrkit.recover(prob.operator, prob.y, 1, method="toy", ridge=1.0)


def test_unknown_method_and_option_and_capability_errors_name_the_fix():
    prob = lrkit.problems.sensing(n1=6, n2=5, rank=1, m=40, seed=0)
    with pytest.raises(ValueError, match="method must be one of 'gd'.*'altmin'"):
        lrkit.recover(prob.operator, prob.y, 1, method="newton")
    with pytest.raises(ValueError, match="method='gd' takes no option ridge"):
        lrkit.recover(prob.operator, prob.y, 1, method="gd", ridge=1.0)
    with pytest.raises(ValueError, match="needs an operator with entries.*Use one of 'gd'"):
        lrkit.recover(prob.operator, prob.y, 1, method="altmin")


#: Accuracy on the seams' noiseless problems where it is not exact recovery (to rounding):
#: Soft-Impute's nuclear-norm shrinkage biases its answer; AltProj stops at its tolerance
#: with part of the 5 % gross errors still in L.
ACCURACY = {"softimpute": 5e-2, "rpca-altproj": 3e-2}


def _problem_for(method, completion, sensing=None):
    """The test problem a solver's needs call for: anchor lines (``linf``), random entries,
    or any operator."""
    needs = get_solver(method).needs
    if "lines" in needs:
        return lrkit.problems.cross_completion(*completion.truth.shape, 2, seed=0)
    return completion if needs or sensing is None else sensing


def _runs(truth):
    sensing = lrkit.problems.sensing(n1=20, n2=15, rank=2, m=400, seed=0)
    completion = lrkit.problems.completion(n1=40, n2=30, rank=2, p_obs=0.5, seed=0)
    rp = lrkit.problems.robust_pca(40, 30, rank=2, corruption=0.05, seed=0)
    out = {}
    for method in solver_names():
        prob = _problem_for(method, completion, sensing)
        out[method] = lrkit.recover(prob.operator, prob.y, 2, method=method, seed=0,
                                    truth=prob.truth if truth else None)
    for method in lrkit.recovery.RPCA_METHODS:
        out[f"rpca-{method}"] = lrkit.rpca(rp.matrix, method, rank=2,
                                           truth=rp.low_rank if truth else None)
    return out


@pytest.mark.parametrize("truth", [True, False])
def test_one_history_schema_and_status_for_every_solver(truth):
    for name, res in _runs(truth).items():
        expected = HISTORY_KEYS if truth else HISTORY_KEYS - {"rel_error"}
        assert expected <= set(res.history), name
        lengths = {len(values) for values in res.history.values()}
        assert lengths == {res.n_iter}, name
        assert res.status is Status.CONVERGED and res.converged, (name, res.message)
        assert np.all(np.diff(res.history["time"]) >= 0), name
        # wall_time covers the whole call: set-up and initialisation too.
        assert res.wall_time >= res.history["time"][-1], name
        if truth:
            assert res.rel_error < ACCURACY.get(name, 1e-6), name


def test_statuses_max_iter_callback_diverged(asym_problem):
    p = asym_problem
    with pytest.warns(lrkit.ConvergenceWarning):
        res = lrkit.recover(p.operator, p.y, 2, max_iter=3, seed=0)
    assert res.status is Status.MAX_ITER and not res.converged

    def stop(info):
        raise StopIteration

    res = lrkit.recover(p.operator, p.y, 2, callback=stop, seed=0)
    assert res.status is Status.CALLBACK and res.n_iter == 1
    res = lrkit.recover(p.operator, p.y, 2, step_size=50.0, seed=0)
    assert res.status is Status.DIVERGED and not res.converged


def test_rpca_callback_sees_iteration_info():
    seen = []
    rp = lrkit.problems.robust_pca(40, 30, rank=2, corruption=0.05, seed=0)
    lrkit.rpca(rp.matrix, callback=seen.append, max_iter=4, tol=1e-30)
    assert [info.iteration for info in seen] == [1, 2, 3, 4]
    assert all(isinstance(info, IterationInfo) for info in seen)
    F, G = seen[-1].factors
    assert F.shape[0] == 40 and G.shape[0] == 30 and seen[-1].extras["sparse"].shape == (40, 30)


def test_run_is_bounded_across_loops():
    run = Run("x", max_iter=5)
    first = list(run.iterations())
    assert first == [1, 2, 3, 4, 5] and list(run.iterations()) == []
    with pytest.warns(lrkit.ConvergenceWarning, match="max_iter=5"):
        res = run.result((np.zeros((2, 1)), np.zeros((2, 1))))
    assert res.status is Status.MAX_ITER


def test_functions_do_not_shadow_their_packages():
    import importlib

    assert callable(lrkit.recover) and callable(lrkit.approx.svd)
    assert importlib.import_module("lrkit.recovery").recover is lrkit.recover
    assert importlib.import_module("lrkit.approx.truncated_svd").svd is lrkit.svd


def test_cli_lists_every_registered_verb_and_method(capsys):
    from lrkit.cli import VERBS, build_parser

    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out
    for verb in VERBS:
        assert verb.__name__.rsplit(".", 1)[-1].replace("_", "-") in text
    with pytest.raises(SystemExit):
        parser.parse_args(["recover", "--help"])
    text = capsys.readouterr().out
    for method in solver_names():
        assert method in text
