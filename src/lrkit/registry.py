"""The one seam every method family plugs into: a method declares its name, its options
(each with a default and a constraint) and the inputs it supports, once.

A family is a :class:`Registry` (``lrkit.recover``'s solvers, RPCA, calibration, sparse
methods, denoisers, Q-estimators, compression factorisations, allocations, adapters,
training layers, projected optimizers). Its public function validates the caller's options
from the declaration (:meth:`Registry.validate`) and dispatches; the command line takes its
``choices`` from the registry itself; :meth:`Registry.help` and :meth:`Registry.table` say
each method in a sentence or a Markdown table; and the contract battery
(``tests/test_contract.py``) walks :func:`registries`. A new method is one module ending in
``FAMILY.register(Method(...))``.

Examples
--------
>>> from lrkit.registry import Method, Option, Registry, integer
>>> ranks = Registry("example", "a toy family", listed=False)
>>> _ = ranks.register(Method("fixed", options={"rank": Option(4, integer(1))},
...                           summary="a fixed rank"))
>>> ranks.validate("fixed", {"rank": 2})
{'rank': 2}
>>> ranks.validate("fixed", {"rank": 0})
Traceback (most recent call last):
...
ValueError: rank must be an int in [1, inf]; got 0
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lrkit._validation import check_choice, check_int, check_real

#: The modules whose import declares every family (loaded by :func:`registries`).
FAMILY_MODULES = (
    "lrkit.recovery", "lrkit.recovery.rpca", "lrkit.calibration.api", "lrkit.sparse.bayesian",
    "lrkit.sparse.regression", "lrkit.estimation.denoising", "lrkit.estimation.q_estimation",
    "lrkit.nn.compression.methods", "lrkit.nn.compression.allocation",
)
#: Families that need PyTorch to declare themselves.
TORCH_FAMILY_MODULES = ("lrkit.nn.adapters", "lrkit.nn.training",
                        "lrkit.nn.training.gradient_projection")

_REGISTRIES: dict[str, Registry] = {}


@dataclass(frozen=True)
class Option:
    """One keyword option of a method: its default and the check that normalises a value."""

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


def _as_given(name, value):
    return value


@dataclass(frozen=True)
class Method:
    """A registered method of one family.

    Attributes
    ----------
    name : str
        The ``method=`` string.
    options : dict of str -> Option
        The keyword options only this method takes, with their constraints.
    inputs : frozenset of str
        The inputs it accepts beside NumPy arrays (``"torch"``, ``"sparse"``,
        ``"pandas"``, ``"complex"``, …); the contract battery checks each.
    summary : str
        One line for tables and ``--help``.
    target : object, optional
        What the family dispatches to (a function or a class).
    """

    name: str
    options: dict = field(default_factory=dict)
    inputs: frozenset = frozenset()
    summary: str = ""
    target: object = None

    @classmethod
    def of_class(cls, layer, inputs=("torch",)):
        """The declaration of a layer class (an adapter, a training layer): its ``kind`` is
        the name, its ``OPTIONS`` (``name -> default``) the options, the first line of its
        docstring the summary, the class itself the target."""
        options = {name: value if isinstance(value, Option) else Option(value, _as_given)
                   for name, value in layer.OPTIONS.items()}
        summary = (layer.__doc__ or "").strip().split("\n")[0]
        return cls(layer.kind, options, frozenset(inputs), summary, layer)

    def validate(self, given):
        """Check ``given`` keyword options; return every declared option with its value."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            valid = ", ".join(sorted(self.options)) or "none"
            raise ValueError(f"method={self.name!r} takes no option {', '.join(unknown)}; "
                             f"its options are: {valid}")
        return {name: option.validate(name, given.get(name, option.default))
                for name, option in self.options.items()}


class Registry(Mapping):
    """The declared methods of one family: a mapping ``name -> declaration``, in
    registration order.

    A declaration is a :class:`Method` or any object with the same attributes (``name``,
    ``options``, ``inputs``, ``summary`` and ``validate(given)``): a recovery
    :class:`~lrkit.recovery.registry.Solver`, a compression
    :class:`~lrkit.nn.compression.methods.Factorization`, an adapter or training layer
    class. Iterating gives the names, so a registry serves wherever a tuple of choices is
    expected (``in``, ``argparse``'s ``choices``, :func:`~lrkit._validation.check_choice`).
    ``listed=False`` keeps a scratch family out of :func:`registries`.
    """

    def __init__(self, family, description="", parameter="method", *, listed=True):
        if listed and family in _REGISTRIES:
            raise ValueError(f"a family named {family!r} is already declared")
        self.family, self.description, self.parameter = family, description, parameter
        self._methods = {}
        if listed:
            _REGISTRIES[family] = self

    def register(self, method, name=None):
        """Add ``method`` under ``name`` (default ``method.name``; it must be new); returns
        ``method``, so it can decorate."""
        name = method.name if name is None else name
        if name in self._methods:
            raise ValueError(f"{self.family}: a method named {name!r} is already registered")
        self._methods[name] = method
        return method

    def get(self, name):
        """The declaration of ``name``; an unknown name lists the valid ones."""
        check_choice(self.parameter, name, tuple(self._methods))
        return self._methods[name]

    def validate(self, name, given):
        """The options of method ``name`` checked against its declaration."""
        return self.get(name).validate(given)

    def summary(self, name):
        return getattr(self._methods[name], "summary", "") or ""

    def help(self):
        """``name: summary`` for every method, one sentence for ``--help``."""
        return "; ".join(f"{name}: {self.summary(name)}" if self.summary(name) else name
                         for name in self._methods)

    def defaults(self, name):
        """``option -> default`` of the method ``name`` (empty for a method without options)."""
        options = getattr(self._methods[name], "options", {})
        return {key: getattr(option, "default", option) for key, option in options.items()}

    def table(self):
        """A Markdown table of the family: method, what it does, its options."""
        rows = [f"| `{self.parameter}=` | what it does | options |", "|---|---|---|"]
        for name in self._methods:
            options = ", ".join(f"`{key}`={value!r}" for key, value in self.defaults(name).items())
            rows.append(f"| `{name}` | {self.summary(name)} | {options or '—'} |")
        return "\n".join(rows)

    def __getitem__(self, name):
        return self._methods[name]

    def __iter__(self):
        return iter(self._methods)

    def __len__(self):
        return len(self._methods)

    def __eq__(self, other):
        if isinstance(other, (tuple, list)):
            return tuple(self) == tuple(other)
        return self is other

    __hash__ = object.__hash__

    def __repr__(self):
        return f"Registry({self.family!r}: {', '.join(self._methods)})"


def declare(family, description, methods, *, inputs=(), parameter="method"):
    """A :class:`Registry` of ``methods`` given as ``{name: summary}`` (methods without
    options of their own), each accepting ``inputs``."""
    registry = Registry(family, description, parameter)
    for name, summary in methods.items():
        registry.register(Method(name, inputs=frozenset(inputs), summary=summary))
    return registry


def registries(torch=None):
    """Every declared family, by name (importing the modules that declare them).

    ``torch=None`` includes the PyTorch families when PyTorch is installed.
    """
    modules = list(FAMILY_MODULES)
    if torch or (torch is None and importlib.util.find_spec("torch") is not None):
        modules += TORCH_FAMILY_MODULES
    for module in modules:
        importlib.import_module(module)
    return dict(_REGISTRIES)
