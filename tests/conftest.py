import warnings

import pytest

import lrkit


@pytest.fixture(autouse=True)
def _quiet_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lrkit.ConvergenceWarning)
        yield


@pytest.fixture(scope="session")
def asym_problem():
    return lrkit.problems.sensing(n1=40, n2=30, rank=2, m=900, seed=0)


@pytest.fixture(scope="session")
def sym_problem():
    return lrkit.problems.sensing(n1=30, n2=30, rank=2, m=900, symmetric=True, seed=0)
