import warnings

import pytest
from hypothesis import settings

import lrkit

# `make test` draws the same examples on every run, so a red CI names a defect in the
# change, not a lucky draw; `make fuzz` (profile "fuzz") draws fresh ones.
settings.register_profile("ci", derandomize=True)
settings.register_profile("fuzz", derandomize=False)
settings.load_profile("ci")


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


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Each torch test body on the CPU and, marked ``gpu``, on CUDA (skipped without one:
    ``pytest -m gpu`` on a machine with a GPU)."""
    torch = pytest.importorskip("torch")
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    return request.param
