"""The ``lrkit`` command line: a module per verb, each registering its sub-parser.

Exit codes: 0 success, 1 invalid input or a failed run (one line on stderr), 2 usage error.
Adding a verb is one module with ``register(subparsers)`` (which sets ``func``) and one
entry in :data:`VERBS`.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import lrkit
from lrkit.cli import (
    adapt,
    calibrate,
    complete,
    compress,
    demo,
    recover,
    rpca,
    spectrum,
    train_lm,
)
from lrkit.exceptions import MissingExtraError

#: The verbs, in the order ``--help`` lists them.
VERBS = (recover, complete, rpca, calibrate, spectrum, compress, adapt, train_lm, demo)


def build_parser():
    parser = argparse.ArgumentParser(prog="lrkit", description="Low-rank matrix methods.")
    parser.add_argument("--version", action="version", version=f"lrkit {lrkit.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.register(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warn
            return args.func(args)
    except (ValueError, MissingExtraError) as error:
        return _fail(error)
    except OSError as error:  # a file system failure while writing (disk full, permissions)
        return _fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))
    except MemoryError:
        return _fail("out of memory: the problem is too large for this machine; reduce its "
                     "size or set LRKIT_MEMORY_BUDGET")
    except KeyboardInterrupt:
        return _fail("interrupted")


def _warn(message, category, filename, lineno, file=None, line=None):
    """A warning in the command line's words: one line, no source path."""
    print(f"lrkit: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _fail(message):
    print(f"lrkit: error: {' '.join(str(message).split())}", file=sys.stderr)
    return 1
