"""Names a package hands on without importing them: each loads on first use.

This keeps ``import lrkit`` light (NumPy and SciPy's core only): a package lists its
public names and the module that defines each, and :func:`lazy_names` returns the
package's ``__getattr__`` and ``__dir__`` (PEP 562).
"""

from __future__ import annotations

import importlib


def lazy_names(package, names, modules=(), *, before=None):
    """``__getattr__`` and ``__dir__`` for ``package`` that import on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : dict of str to str
        Public name -> absolute name of the module that defines it.
    modules : dict of str to str, optional
        Attribute -> absolute name of a module handed on whole.
    before : callable, optional
        Called with the attribute before the import (e.g. to check an optional extra).
    """
    modules = dict(modules)

    def __getattr__(attribute):
        if attribute in modules:
            if before is not None:
                before(attribute)
            return importlib.import_module(modules[attribute])
        if attribute not in names:
            raise AttributeError(f"module {package!r} has no attribute {attribute!r}")
        if before is not None:
            before(attribute)
        value = getattr(importlib.import_module(names[attribute]), attribute)
        importlib.import_module(package).__dict__[attribute] = value
        return value

    def __dir__():
        return sorted(set(importlib.import_module(package).__dict__) | set(names)
                      | set(modules))

    return __getattr__, __dir__
