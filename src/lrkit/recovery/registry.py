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

from lrkit._validation import check_choice, check_int, check_real


@dataclass(frozen=True)
class Option:
    """One keyword option of a solver: its default and the check that normalises a value."""

    default: object
    check: Callable[[str, object], object]
    doc: str = ""
    #: The power of the data's scale the value carries (a step ``∝ 1/σ`` has -1, a ridge
    #: or a λ ``∝ σ`` has 1), so a problem solved rescaled can rescale the value too.
    unit: int = 0

    def validate(self, name, value):
        """``value`` checked; None passes where the default is None (an optional option)."""
        return value if value is None and self.default is None else self.check(name, value)


def integer(low=None, high=None):
    """Constraint: an int in ``[low, high]``."""
    return lambda name, value: check_int(name, value, low, high)


def real(low=None, high=None, *, low_open=False, high_open=False):
    """Constraint: a finite real number in the interval."""
    return lambda name, value: check_real(name, value, low, high, low_open, high_open)


def choice(*values):
    """Constraint: one of ``values``."""
    return lambda name, value: check_choice(name, value, values)


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
    """

    name: str
    solve: Callable
    options: dict = field(default_factory=dict)
    needs: frozenset = frozenset()
    array_api: bool = True
    symmetric: bool = False
    summary: str = ""

    def rescale_options(self, values, scale):
        """``values`` for the problem with its data divided by ``scale``."""
        return {name: value * scale ** -self.options[name].unit
                if name in self.options and self.options[name].unit and value is not None
                else value for name, value in values.items()}

    def validate(self, given):
        """Check ``given`` keyword options; return every declared option with its value."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            valid = ", ".join(sorted(self.options)) or "none"
            raise ValueError(f"method={self.name!r} takes no option {', '.join(unknown)}; "
                             f"its options are: {valid}")
        return {name: option.validate(name, given.get(name, option.default))
                for name, option in self.options.items()}


_SOLVERS: dict[str, Solver] = {}


def register(solver: Solver) -> Solver:
    """Add ``solver`` to the registry (its name must be new)."""
    if solver.name in _SOLVERS:
        raise ValueError(f"a solver named {solver.name!r} is already registered")
    _SOLVERS[solver.name] = solver
    return solver


def get_solver(name) -> Solver:
    """The registered solver ``name``; an unknown name lists the valid ones."""
    check_choice("method", name, solver_names())
    return _SOLVERS[name]


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
