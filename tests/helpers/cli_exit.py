"""Run ``ganforge`` in-process and return its exit status (the CLI always ends in SystemExit)."""

import pytest

from ganforge.cli import main


def cli(*argv):
    """``ganforge ARGV...`` (any argument converted with str) -> the exit status."""
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in argv])
    return done.value.code
