"""Public warnings and errors of lrkit.

Every error lrkit raises for bad input is a :class:`ValueError` (or a subclass), raised at
the public boundary before any work starts, with a message that names the argument and
the fix.
"""

from __future__ import annotations


class AdjointTestError(AssertionError):
    """An operator's ``adjoint`` is not the adjoint of its ``forward`` (see
    :func:`~lrkit.operators.dottest`)."""


class ConvergenceWarning(UserWarning):
    """A solver stopped at ``max_iter`` before meeting its tolerance."""


class OperatorTooLargeError(ValueError):
    """Building an operator (or a dense array) would exceed the memory budget."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


__all__ = ["AdjointTestError", "ConvergenceWarning", "MissingExtraError", "OperatorTooLargeError"]
