"""Optional dependencies: one check, one message naming the extra to install."""

from __future__ import annotations

import importlib.util

from lrkit.exceptions import MissingExtraError


def require(module, extra, purpose):
    """Raise :class:`MissingExtraError` before any work when ``module`` is not installed."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(f"{purpose} needs {module}: pip install 'lrkit[{extra}]'")
