"""The solver registry: each solver module declares itself once, ``recover()`` looks it up.

A :class:`Solver` names its method, the options it takes (each with a default and a
constraint, checked in one place), the operator capabilities it needs, whether it runs on
any array-API namespace or on NumPy only, and whether it supports the symmetric
parameterisation. Adding a solver is one new module that ends with ``register(Solver(...))``
plus its import in :mod:`lrkit.recovery`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lrkit._validation import check_choice
from lrkit.registry import Method, Option, Registry, choice, integer, real

__all__ = ["Option", "SOLVERS", "Solver", "choice", "get_solver", "integer", "real",
           "register", "solver_names", "solvers_needing"]


@dataclass(frozen=True)
class Solver:
    """A registered recovery method.

    Attributes
    ----------
    name : str
        The ``method=`` string.
    solve : callable(run, operator, y, rank, options, rng) -> RecoveryResult
        ``options`` is a dict of validated values for every declared option plus ``tol``.
    options : dict of str -> Option
    needs : frozenset of str
        Operator capabilities required (``operator.capabilities`` must contain them), e.g.
        ``{"entries"}`` for matrix completion.
    array_api : bool
        True: the solver's math runs on the input's namespace (NumPy, PyTorch CPU/GPU, …).
        False: NumPy only; ``recover()`` converts once at the boundary and converts the
        factors back, so a torch user gets tensors but the work is done on the CPU.
    symmetric : bool
        Supports ``parameterization="symmetric"`` (``X Xᵀ``).
    summary : str
        One line for tables and ``--help``.
    loss : {"l2", "l1", "l2+nuclear"}
        The loss it fits. Plain least-squares fits (``"l2"``) are checked for gross
        outliers after the solve (:mod:`lrkit.recovery.audit`); ``"l1"`` is robust to them
        (``"subgm"``); a penalised fit's own bias has a heavy-tailed residual, so it is
        not checked.
    """

    name: str
    solve: Callable
    options: dict = field(default_factory=dict)
    needs: frozenset = frozenset()
    array_api: bool = True
    symmetric: bool = False
    summary: str = ""
    loss: str = "l2"

    @property
    def inputs(self):
        """Inputs beside NumPy arrays (the contract battery checks each)."""
        return frozenset({"torch"})

    validate = Method.validate

    def rescale_options(self, values, scale):
        """``values`` for the problem with its data divided by ``scale``."""
        return {name: value * scale ** -self.options[name].unit
                if name in self.options and self.options[name].unit and value is not None
                else value for name, value in values.items()}


#: The family of :func:`lrkit.recover`.
SOLVERS = Registry("recover", "solvers of recover(operator, y, rank)")
_SOLVERS = SOLVERS._methods


def register(solver: Solver) -> Solver:
    """Add ``solver`` to the registry (its name must be new)."""
    return SOLVERS.register(solver)


def get_solver(name) -> Solver:
    """The registered solver ``name``; an unknown name lists the valid ones."""
    check_choice("method", name, solver_names())
    return SOLVERS[name]


def solver_names(needs=None) -> tuple:
    """Names of the registered solvers, all or those whose needs are within ``needs``;
    solvers for any operator first, then the specialised ones (each in registration order)."""
    names = [name for name, solver in _SOLVERS.items()
             if needs is None or solver.needs <= frozenset(needs)]
    return tuple(sorted(names, key=lambda name: bool(_SOLVERS[name].needs)))


def solvers_needing(capability) -> tuple:
    """Names of the solvers made for operators with ``capability`` and nothing more (e.g.
    ``"entries"``: the matrix-completion solvers; not ``"linf"``, which also needs whole
    anchor lines)."""
    return tuple(name for name in solver_names(needs={capability})
                 if capability in _SOLVERS[name].needs)
