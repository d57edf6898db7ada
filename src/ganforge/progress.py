"""Progress bars for long one-shot work: sampling and feature extraction in ``ganforge eval``
and ``sample``, training an evaluator CNN or a detector.

A bar is drawn only when stderr is a terminal. Redirected to a file (CI, ``> log``) or captured
by a test, a redrawn bar would fill the output with lines, and those jobs print their own log
lines anyway. The bar is removed when the work ends, so the terminal keeps only the log lines.
Training has its own bar (training/loop.py), switched by ``run.progress``.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(total: int, unit: str, desc: str | None = None, show: bool = True) -> tqdm:
    """A tqdm bar over ``total`` ``unit``s on stderr, shown when ``show`` and stderr is a
    terminal; use it as a context manager and call ``update(n)``."""
    return tqdm(
        total=total,
        unit=unit,
        desc=desc,
        disable=not (show and sys.stderr.isatty()),
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
    )
