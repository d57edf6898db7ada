"""What every translation probe does with its figures: print them, and keep them if asked."""

from __future__ import annotations

import json


def emit(out: dict, path: str | None) -> None:
    """Print ``out`` as indented JSON; also write it to ``path`` when one is given."""
    print(json.dumps(out, indent=1))
    if path:
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
