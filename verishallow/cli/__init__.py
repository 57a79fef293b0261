"""The ``verishallow`` command line: one module per command, registered below."""

from __future__ import annotations

import importlib

import click

from .. import __version__

#: (module, command name) of every subcommand; each module defines ``command``.
COMMANDS = [
    ("info", "info"),
    ("regions", "regions"),
    ("convert", "convert"),
    ("show", "show"),
    ("explain", "explain"),
    ("plot", "plot"),
    ("equiv", "equiv"),
    ("verify", "verify"),
    ("certify", "certify"),
    ("check", "check"),
    ("supports", "supports"),
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="verishallow")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def main(debug: bool) -> None:
    """Prove that a deep ReLU network equals a shallow one, and show the work.

    Exit codes: 0 success/holds/equivalent/valid, 1 the answer is no, 2 bad input,
    3 unknown, 4 internal error.
    """


for _module, _name in COMMANDS:
    main.add_command(importlib.import_module(f".{_module}", __name__).command, _name)
