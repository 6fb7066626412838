"""The ``lrkit`` command line: a module per verb, each registering its sub-parser.

Exit codes: 0 success, 1 invalid input or a failed run (one line on stderr), 2 usage error.
Adding a verb is one module with ``register(subparsers)`` (which sets ``func``) and one
entry in :data:`VERBS`.
"""

from __future__ import annotations

import argparse
import sys

import lrkit
from lrkit.cli import complete, compress, demo, recover, rpca, spectrum
from lrkit.exceptions import MissingExtraError

#: The verbs, in the order ``--help`` lists them.
VERBS = (recover, complete, rpca, spectrum, compress, demo)


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
        return args.func(args)
    except (ValueError, MissingExtraError) as error:
        print(f"lrkit: error: {error}", file=sys.stderr)
        return 1
