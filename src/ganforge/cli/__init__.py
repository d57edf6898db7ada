"""The ``ganforge`` command: parse arguments, build a config, call the library. Nothing else.

Each sub-command lives in its own module with ``add_parser(subparsers)`` and ``run(args)``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ganforge import __version__
from ganforge.errors import GanforgeError

# Sub-command modules, in the order `ganforge --help` lists them.
COMMANDS = ["train", "sample", "translate", "eval", "evaluator", "export", "detect", "info", "lab"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganforge", description="Train, evaluate and understand GANs.")
    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"ganforge.cli.{name.replace('-', '_')}")
        module.add_parser(subparsers).set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.handler(args)
    except GanforgeError as err:
        print(f"ganforge: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("ganforge: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (`ganforge info | head`): not an error worth a traceback.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code or 0)
