"""The contract battery: every method of every registry (:func:`lrkit.registry.registries`)
goes through the same checks, so a new method gets them by registering.

- its declaration: a name, a summary, options whose defaults pass their own constraints;
- the one result protocol (:data:`lrkit.result.PROTOCOL`);
- on a seeded easy problem: ``converged`` and a good answer;
- on a seeded hard problem (outliers, too few measurements, a wrong model): never a
  confident wrong answer (``converged=True`` only with a good answer);
- NaN or inf in the data: a ``ValueError`` before any work;
- the same seed gives the same answer; a torch tensor in gives a tensor out where the
  method declares ``"torch"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import lrkit
from lrkit._backend import to_numpy
from lrkit.registry import registries
from lrkit.result import PROTOCOL


@dataclass
class Case:
    """One seeded problem of a family: ``solve(method, data, **extra)`` runs the public
    function on ``data`` (a dict of its array arguments), ``good(result)`` judges the
    answer against the truth."""

    data: dict
    solve: object
    good: object


def _recover_case(method, hard, seed):
    needs = lrkit.recovery.get_solver(method).needs
    if "lines" in needs:  # hard: noise at a tenth of the entries' size
        clean = lrkit.problems.cross_completion(60, 50, 2, seed=seed)
        noise = 0.1 * float(np.sqrt(np.mean(clean.truth**2))) if hard else 0.0
        prob = lrkit.problems.cross_completion(60, 50, 2, seed=seed, noise=noise)
    elif needs:
        prob = lrkit.problems.completion(60, 50, 2, p_obs=0.06 if hard else 0.5, seed=seed)
    else:
        prob = lrkit.problems.sensing(20, 16, 2, 400, seed=seed,
                                      outlier_frac=0.2 if hard else 0.0)
    return Case(
        {"y": prob.y},
        lambda method, data, **extra: lrkit.recover(prob.operator, data["y"], 2,
                                                    method=method, seed=seed, **extra),
        lambda result: _error(result.estimate, prob.truth) < (0.5 if hard else 1e-2))


def _rpca_case(method, hard, seed):
    prob = lrkit.problems.robust_pca(80, 60, 12 if hard else 3,
                                     corruption=0.4 if hard else 0.05, magnitude=10.0,
                                     seed=seed)
    rank = 12 if hard else 3
    return Case(
        {"M": prob.matrix},
        lambda method, data, **extra: lrkit.rpca(data["M"], method, rank=rank, **extra),
        lambda result: _error(result.low_rank, prob.low_rank) < 1e-3)


def _calibrate_case(method, hard, seed):
    prob = lrkit.problems.calibration(n=16, m=6 if hard else 32, p=2 if hard else 8,
                                      seed=seed)
    return Case(
        {"sensing": prob.sensing, "y": prob.y},
        lambda method, data, **extra: lrkit.calibrate(data["sensing"], data["y"], method,
                                                      truth=prob.truth),
        lambda result: result.rel_error < 1e-3)


def _sparse_bayes_case(method, hard, seed):
    prob = lrkit.problems.kronecker_sparse(16, 16, 4 if hard else 8, 4 if hard else 8,
                                           2, 3 if hard else 2, seed=seed)
    operator = ({"dictionary": prob.dictionary} if method == "em"
                else {"kron": prob.factors})
    return Case(
        {"y": prob.y},
        lambda method, data, **extra: lrkit.sparse_bayes(data["y"], method=method,
                                                         tol=1e-9, **operator),
        lambda result: _error(result.coef, prob.truth) < 1e-3)


def _sparse_regression_case(method, hard, seed):
    prob = lrkit.problems.ill_conditioned_regression(200 if hard else 400, 400, 8,
                                                     noise_std=0.1 if hard else 0.0,
                                                     condition=1e6 if hard else 1.0,
                                                     seed=seed)
    return Case(
        {"X": prob.X, "y": prob.y},
        lambda method, data, **extra: lrkit.sparse_regression(data["X"], data["y"], 8,
                                                              method=method, seed=0),
        lambda result: prob.prediction_error(result.coef) < (0.1 if hard else 1e-2))


def _denoise_case(method, hard, seed):
    rng = np.random.default_rng(seed)
    n1, n2 = 120, 200
    signal = 40.0 * np.outer(rng.standard_normal(n1), rng.standard_normal(n2)) / np.sqrt(
        n1 * n2)
    noisy = signal + (rng.standard_normal((n1, n2)) if not hard else
                      rng.standard_t(3, (n1, n2)))
    baseline = lrkit.relative_error(noisy, signal)
    return Case(
        {"Y": noisy},
        lambda method, data, **extra: lrkit.denoise(data["Y"], method),
        lambda result: lrkit.relative_error(result.estimate, signal) < 0.5 * baseline)


def _estimate_q_case(method, hard, seed):
    mdp = lrkit.problems.low_rank_mdp(60, 30, latent=2, gamma=0.5, seed=seed)
    n_iter = 3 if hard else 15
    return Case(
        {"rewards": mdp.rewards},
        lambda method, data, **extra: lrkit.estimate_q(
            data["rewards"], mdp.sample_next, mdp.gamma, rank=3, method=method,
            samples_per_entry=40, n_iter=n_iter, seed=0),
        lambda result: np.abs(result.q - mdp.q_star).max() < 0.1 * np.abs(mdp.q_star).max())


def _error(estimate, truth):
    return lrkit.relative_error(np.asarray(to_numpy(estimate)), np.asarray(truth))


#: Family -> the seeded problems its methods are judged on.
CASES = {
    "recover": _recover_case,
    "rpca": _rpca_case,
    "calibrate": _calibrate_case,
    "sparse_bayes": _sparse_bayes_case,
    "sparse_regression": _sparse_regression_case,
    "denoise": _denoise_case,
    "estimate_q": _estimate_q_case,
}
#: Families of PyTorch layers and rank rules: declared and checked in tests/nn.
TORCH_FAMILIES = {"compress", "allocation", "adapt", "lowrank_model", "projection"}

#: The answer of a result, by the first attribute it has.
OUTPUTS = ("low_rank", "gains", "coef", "q", "estimate")
REGISTRIES = registries()
METHODS = [(family, name) for family, registry in REGISTRIES.items() for name in registry]
NUMERIC = [(family, name) for family, name in METHODS if family in CASES]


def test_every_family_is_covered_by_the_battery():
    assert set(REGISTRIES) <= set(CASES) | TORCH_FAMILIES


@pytest.mark.parametrize(("family", "name"), METHODS)
def test_declaration(family, name):
    registry = REGISTRIES[family]
    method = registry[name]
    assert registry.summary(name), f"{family}:{name} has no summary"
    for option_name, option in getattr(method, "options", {}).items():
        if option.default is not None:
            assert option.validate(option_name, option.default) == option.default
    assert name in registry.help() and f"`{name}`" in registry.table()
    with pytest.raises(ValueError, match=f"{registry.parameter} must be one of"):
        registry.get(name + "_unknown")


@pytest.mark.parametrize(("family", "name"), NUMERIC)
def test_easy_problem_converges_to_a_good_answer(family, name):
    case = CASES[family](name, hard=False, seed=0)
    result = case.solve(name, case.data)
    for field in PROTOCOL:
        assert hasattr(result, field), f"{family}:{name} result lacks {field}"
    assert result.converged, f"{family}:{name}: {result.message}"
    assert case.good(result), f"{family}:{name} converged to a wrong answer"


@pytest.mark.parametrize(("family", "name"), NUMERIC)
def test_hard_problem_gives_no_confident_wrong_answer(family, name):
    case = CASES[family](name, hard=True, seed=1)
    with np.errstate(all="ignore"):
        result = case.solve(name, case.data)
    assert not result.converged or case.good(result), (
        f"{family}:{name} says converged ({result.message}) with a wrong answer")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize(("family", "name"), NUMERIC)
def test_non_finite_data_are_refused(family, name, bad):
    case = CASES[family](name, hard=False, seed=0)
    key = next(iter(case.data))
    spoiled = np.array(case.data[key], dtype=float, copy=True)
    spoiled.flat[0] = bad
    with pytest.raises(ValueError, match=r"NaN|non-finite|finite"):
        case.solve(name, {**case.data, key: spoiled})


@pytest.mark.parametrize(("family", "name"), NUMERIC)
def test_same_seed_same_answer(family, name):
    first = CASES[family](name, hard=False, seed=3)
    second = CASES[family](name, hard=False, seed=3)
    a, b = first.solve(name, first.data), second.solve(name, second.data)
    estimate = next(attr for attr in OUTPUTS if hasattr(a, attr))
    np.testing.assert_array_equal(np.asarray(getattr(a, estimate)),
                                  np.asarray(getattr(b, estimate)))


@pytest.mark.parametrize(("family", "name"), [
    (family, name) for family, name in NUMERIC
    if "torch" in getattr(REGISTRIES[family][name], "inputs", ())])
def test_torch_in_torch_out(family, name):
    torch = pytest.importorskip("torch")
    case = CASES[family](name, hard=False, seed=0)
    tensors = {key: torch.as_tensor(value) for key, value in case.data.items()}
    result = case.solve(name, tensors)
    out = next(getattr(result, attr) for attr in OUTPUTS if hasattr(result, attr))
    assert isinstance(out, torch.Tensor), f"{family}:{name} returned {type(out).__name__}"
    assert result.converged and case.good(result)
