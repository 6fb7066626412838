"""The adjoint ("dot") test for matrix-valued operators, public so users can check their own."""

from __future__ import annotations

import numpy as np

from lrkit._random import as_generator
from lrkit.exceptions import AdjointTestError


def dottest(operator, seed=None, rtol=1e-10, rank=3, raise_error=True):
    """Check ``<A(X), y> = <X, A*(y)>`` and the factor-aware products on random inputs.

    Also checks ``forward_factored(F, G) = forward(F Gᵀ)``, ``adjoint_apply(y, V) = A*(y) V``
    and ``adjoint_apply_t(y, U) = A*(y)ᵀ U``, the identities the solvers rely on.

    Parameters
    ----------
    operator : SensingOperator
    seed : int or numpy.random.Generator, optional
    rtol : float
        Relative tolerance on each identity.
    rank : int
        Number of columns of the random factors.
    raise_error : bool
        Raise :class:`AdjointTestError` on failure (default) instead of returning False.

    Returns
    -------
    bool
        True when every identity holds to ``rtol``.
    """
    rng = as_generator(seed)
    n1, n2 = operator.shape
    X = rng.standard_normal((n1, n2))
    y = rng.standard_normal(operator.m)
    F = rng.standard_normal((n1, rank))
    G = rng.standard_normal((n2, rank))
    AX, Ay = operator.forward(X), operator.adjoint(y)
    checks = {
        "<A(X), y> = <X, A*(y)>": (float(AX @ y), float(np.sum(X * Ay))),
        "forward_factored(F, G) = A(F Gᵀ)": (
            operator.forward_factored(F, G),
            operator.forward(F @ G.T),
        ),
        "adjoint_apply(y, G) = A*(y) G": (operator.adjoint_apply(y, G), Ay @ G),
        "adjoint_apply_t(y, F) = A*(y)ᵀ F": (operator.adjoint_apply_t(y, F), Ay.T @ F),
    }
    for name, (left, right) in checks.items():
        left, right = np.asarray(left), np.asarray(right)
        scale = max(np.linalg.norm(left), np.linalg.norm(right), np.finfo(float).tiny)
        error = np.linalg.norm(left - right) / scale
        if not error <= rtol:
            if raise_error:
                raise AdjointTestError(f"{operator!r}: {name} fails, relative error {error:.2e}")
            return False
    return True
