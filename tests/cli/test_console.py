"""The CLI's shared argument types and checks (lrkit.cli.console)."""

import argparse
import math

import pytest

from lrkit.cli.console import (
    check_plot_path,
    fraction_arg,
    number_arg,
    positive_int_arg,
    rank_or_auto_arg,
    share_arg,
)


@pytest.mark.parametrize("parse, good, bad", [
    (positive_int_arg, {"1": 1, "12": 12}, ["0", "-3", "1.5", "x"]),
    (fraction_arg, {"0.3": 0.3, "1e-3": 1e-3}, ["0", "1", "nan", "2"]),
    (share_arg, {"0": 0.0, "0.99": 0.99}, ["1", "-0.1"]),
    (rank_or_auto_arg, {"auto": "auto", "4": 4}, ["0", "many"]),
])
def test_argument_types_parse_and_refuse_with_the_interval(parse, good, bad):
    for text, value in good.items():
        assert parse(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match="must be"):
            parse(text)


def test_number_arg_names_its_interval():
    parse = number_arg(float, 0.0, low_open=True, high=1.0)
    assert parse("1") == 1.0 and parse.__name__ == "float a number in (0, 1]"
    with pytest.raises(argparse.ArgumentTypeError, match=r"must be a number in \(0, 1\]; got 0"):
        parse("0")
    assert math.isinf(number_arg(float, 0.0)("inf"))


def test_plot_paths_are_checked_before_work(tmp_path):
    source = tmp_path / "data.npy"
    source.write_bytes(b"")
    check_plot_path(tmp_path / "new" / "plot.png")  # a missing folder is created
    assert (tmp_path / "new").is_dir()
    with pytest.raises(ValueError, match="--plot .* must end in .png or .pdf or .svg"):
        check_plot_path(tmp_path / "plot.txt")
    with pytest.raises(ValueError, match="would overwrite the input"):
        check_plot_path(tmp_path / "data.png", inputs=[tmp_path / "data.png"])


def test_every_verb_that_needs_pytorch_says_so_in_the_verb_list():
    from lrkit.cli import build_parser

    verbs = next(action for action in build_parser()._actions
                 if isinstance(action, argparse._SubParsersAction))
    marked = {choice.dest for choice in verbs._choices_actions
              if choice.help.endswith("(needs lrkit[nn])")}
    assert marked == {"compress", "adapt", "train-lm"}
