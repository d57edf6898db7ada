"""The ``ganforge`` command: parse arguments, build a config, call the library. Nothing else.

Each sub-command lives in its own module with ``add_parser(subparsers)`` and ``run(args)``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from pathlib import Path

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


PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def one_line_warnings(previous):
    """A ``warnings.formatwarning`` that writes ganforge's own warnings (a skipped unreadable
    file ...) as one line, like its errors; other packages' warnings keep ``previous``, whose
    format says where they come from. Only the format changes: a caller that records warnings
    (``catch_warnings(record=True)``, ``pytest.warns``) still records them."""

    def format_warning(message, category, filename, lineno, line=None):
        if not str(Path(filename).resolve()).startswith(PACKAGE_DIR):
            return previous(message, category, filename, lineno, line)
        return f"ganforge: warning: {message}\n"

    return format_warning


def os_error_line(err: OSError) -> str:
    """A file the command could not read or write -> one line naming the file and the cause."""
    names = " -> ".join(str(n) for n in (err.filename, err.filename2) if n is not None)
    reason = err.strerror or str(err) or type(err).__name__
    return f"cannot use {names}: {reason}" if names else reason


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    previous = warnings.formatwarning
    warnings.formatwarning = one_line_warnings(previous)
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
    except OSError as err:  # an --out in a missing or read-only folder, a full disk ...
        print(f"ganforge: error: {os_error_line(err)}", file=sys.stderr)
        sys.exit(2)
    finally:
        warnings.formatwarning = previous
    sys.exit(code or 0)
