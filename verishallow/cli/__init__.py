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


#: What ``verishallow --name`` prints (VNN-LIB 2.0 global option: the solver's full name).
SOLVER_NAME = "verishallow"


def _print_and_exit(text: str):
    def callback(ctx: click.Context, _param, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            click.echo(text)
            ctx.exit()
    return callback


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_and_exit(__version__),
              help="Print the version (a bare semantic version, as VNN-LIB 2.0 asks) and exit.")
@click.option("--name", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_and_exit(SOLVER_NAME),
              help="Print the solver's name (VNN-LIB 2.0 global option) and exit.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def main(debug: bool) -> None:
    """Prove that a deep ReLU network equals a shallow one, and show the work.

    Exit codes: 0 success/holds/equivalent/valid, 1 the answer is no, 2 bad input,
    3 unknown, 4 internal error.
    """


for _module, _name in COMMANDS:
    main.add_command(importlib.import_module(f".{_module}", __name__).command, _name)
