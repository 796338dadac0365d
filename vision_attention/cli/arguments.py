"""What every command's parser shares: one-line errors instead of a usage dump, ``--debug``
declared once, and the value checks as argparse ``type=`` functions, so a bad value is refused
while the command line is read, before any model is loaded."""

from __future__ import annotations

import argparse
import re

from ..resources import check_device, check_int, check_number


class UsageError(ValueError):
    """A command line argparse refused; its message is one line."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``vision-attention: error: ...``) with exit
    status 2, as every other mistake is; ``--help`` prints the usage as usual."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)  # a LightningCLI flag is never taken for a prefix of ours
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        found = re.match(r"argument ([^:]+): (.*)", message, re.DOTALL)
        if found and found.group(2).startswith(found.group(1).split("/")[0]):
            message = found.group(2)  # our type functions name the option themselves
        raise UsageError(message)


def common() -> Parser:
    """The options every command takes (as a parent parser)."""
    parser = Parser(add_help=False)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def integer(name: str, low: int = 1, high: int | None = None):
    """A ``type=`` for an integer option in [low, high], its errors naming ``name``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = text  # check_int names it as given
        try:
            return check_int(name, value, low, high)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def number(name: str, low: float = 0.0):
    """A ``type=`` for a finite number >= low, its errors naming ``name``."""

    def parse(text: str) -> float:
        try:
            return check_number(name, float(text), low)
        except ValueError as err:
            raise argparse.ArgumentTypeError(
                str(err) if "must be" in str(err) else f"{name} must be a number"
            ) from None

    return parse


def device(text: str) -> str:
    """A ``type=`` for ``--device``: cpu, or a cuda this machine has."""
    try:
        check_device("--device", text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text
