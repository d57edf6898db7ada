"""What the page and the server say to each other, and the checks every client message passes.

Client -> server: JSON text, one object per message, at most ``MAX_MESSAGE_CHARS`` long::

    {"type": "play"}                      {"type": "pause"}
    {"type": "step", "unit": "d" | "g" | "iteration"}
    {"type": "reset"}
    {"type": "set", "values": {"lr_d": 0.001, "loss": "minimax", ...}}
    {"type": "draw", "points": [[x, y], ...]}      train on user-drawn points
    {"type": "ack", "seq": 12}                      the page has drawn frame 12

Server -> client: JSON text for ``hello`` (the settings, their ranges and the limits),
``settings`` (after a change) and ``error``; binary frames for the picture (``encode_frame``).
A message that fails a check is answered with an ``error`` message and changes nothing.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES


class ProtocolError(GanforgeError, ValueError):
    """A client message the lab cannot use; the message says what was wrong."""


@dataclass(frozen=True)
class Setting:
    """One knob on the page: its type, default, allowed values and whether it applies live."""

    kind: type  # int, float or str
    default: Any
    low: float | None = None  # inclusive bounds for numbers
    high: float | None = None
    choices: tuple[str, ...] | None = None  # allowed values for strings
    live: bool = True  # False: changing it rebuilds the models (a clean restart)
    help: str = ""

    def check(self, name: str, value: Any) -> Any:
        """``value`` as ``kind``; a ProtocolError names the setting and what is allowed."""
        if self.kind is str:
            if not isinstance(value, str) or value not in (self.choices or ()):
                allowed = ", ".join(self.choices or ())
                raise ProtocolError(f"{name} must be one of {allowed}; got {_short(value)}")
            return value
        # JSON has one number type; bools are not numbers here.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProtocolError(f"{name} must be a number, got {_short(value)}")
        # Compare against the bounds first: Python compares a huge int and a float exactly,
        # while float(10**400) would raise OverflowError.
        if not (isinstance(value, int) or math.isfinite(value)):
            raise ProtocolError(f"{name} must be a finite number, got {_short(value)}")
        if not self.low <= value <= self.high:
            raise ProtocolError(f"{name} must be in [{self.low:g}, {self.high:g}], got {_short(value)}")
        if self.kind is int:
            if not float(value).is_integer():
                raise ProtocolError(f"{name} must be a whole number, got {_short(value)}")
            return int(value)
        return float(value)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind.__name__,
            "default": self.default,
            "min": self.low,
            "max": self.high,
            "choices": self.choices,
            "live": self.live,
            "help": self.help,
        }


DATA_SETS = ("ring8", "grid25", "spiral", "moons", "drawn")

SETTINGS: dict[str, Setting] = {
    "data": Setting(
        str,
        "ring8",
        choices=DATA_SETS,
        live=False,
        help="real distribution; 'drawn' uses the points you clicked",
    ),
    "loss": Setting(
        str, "nonsaturating", choices=tuple(LOSSES), help="GAN objective (ganforge.losses); applies live"
    ),
    "lr_d": Setting(float, 1e-3, 1e-5, 0.5, help="D's learning rate; applies live"),
    "lr_g": Setting(float, 1e-3, 1e-5, 0.5, help="G's learning rate; applies live"),
    "d_steps": Setting(int, 1, 1, 10, help="D updates per G update"),
    "batch_size": Setting(int, 64, 8, 512, help="real and fake points per update"),
    "speed": Setting(int, 10, 1, 500, help="iterations per visual update at most"),
    "optimizer": Setting(
        str, "adam", choices=("adam", "sgd"), live=False, help="Adam(beta1=0.5, beta2=0.999) or plain SGD"
    ),
    "z_dim": Setting(int, 2, 1, 64, live=False, help="noise dimension"),
    "noise": Setting(
        str,
        "uniform",
        choices=("uniform", "normal"),
        live=False,
        help="noise distribution: U[-1, 1] or N(0, 1)",
    ),
    "hidden_layers": Setting(int, 2, 1, 4, live=False, help="hidden layers in G and in D"),
    "width": Setting(int, 64, 4, 256, live=False, help="hidden units per layer in G and D"),
    "seed": Setting(int, 0, 0, 2**31 - 1, live=False, help="seed of weights, data and noise"),
}

MAX_MESSAGE_CHARS = 64 * 1024  # a drawn data set of MAX_DRAWN_POINTS fits easily
MAX_DRAWN_POINTS = 1000  # points a user may draw
DRAW_BOUNDS = (-1.5, 1.5, -1.5, 1.5)  # x_min, x_max, y_min, y_max of the drawing canvas
STEP_UNITS = ("d", "g", "iteration")
_FIELDS = {
    "play": set(),
    "pause": set(),
    "reset": set(),
    "step": {"unit"},
    "set": {"values"},
    "draw": {"points"},
    "ack": {"seq"},
}


def _short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters: an error frame never echoes a huge value."""
    try:
        text = repr(value)
    except RecursionError:
        return "a deeply nested value"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def default_settings() -> dict[str, Any]:
    return {name: spec.default for name, spec in SETTINGS.items()}


def check_settings(values: Any) -> dict[str, Any]:
    """Validate a ``{name: value}`` mapping of settings; all of it passes or none does."""
    if not isinstance(values, dict) or not values:
        raise ProtocolError("'values' must be a non-empty object of setting: value")
    checked = {}
    for name, value in values.items():
        if name not in SETTINGS:
            raise ProtocolError(f"unknown setting {_short(name)}; valid: {', '.join(SETTINGS)}")
        checked[name] = SETTINGS[name].check(name, value)
    return checked


def check_points(points: Any) -> list[tuple[float, float]]:
    """Drawn points: 2..MAX_DRAWN_POINTS pairs of finite numbers inside DRAW_BOUNDS."""
    if not isinstance(points, list) or not 2 <= len(points) <= MAX_DRAWN_POINTS:
        raise ProtocolError(f"'points' must be a list of 2 to {MAX_DRAWN_POINTS} [x, y] pairs")
    x_min, x_max, y_min, y_max = DRAW_BOUNDS
    checked = []
    for point in points:
        if (
            not isinstance(point, list)
            or len(point) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in point)
        ):
            raise ProtocolError(f"each drawn point must be [x, y] with two numbers, got {_short(point)}")
        x, y = point
        if not (x_min <= x <= x_max and y_min <= y <= y_max):  # also rejects NaN and huge ints
            raise ProtocolError(f"drawn point {_short(point)} lies outside the drawing area {DRAW_BOUNDS}")
        checked.append((float(x), float(y)))
    return checked


def parse_message(text: Any) -> dict[str, Any]:
    """One client message (JSON text) -> a checked command dict; ProtocolError otherwise."""
    if not isinstance(text, str):
        raise ProtocolError("send commands as JSON text, not binary")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ProtocolError(f"message too long ({len(text)} characters; at most {MAX_MESSAGE_CHARS})")
    try:
        message = json.loads(text)
    except RecursionError:  # e.g. [[[[...]]]] 30,000 deep: json recurses once per level
        raise ProtocolError("message is nested too deeply to be a lab command") from None
    except ValueError:  # also integers beyond Python's 4,300-digit conversion limit
        raise ProtocolError("message is not valid JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError('a message must be a JSON object with a "type" string')
    kind = message["type"]
    if kind not in _FIELDS:
        raise ProtocolError(f"unknown message type {_short(kind)}; valid: {', '.join(_FIELDS)}")
    fields = set(message) - {"type"}
    if fields != _FIELDS[kind]:
        wanted = ", ".join(sorted(_FIELDS[kind])) or "no other fields"
        raise ProtocolError(f"a {_short(kind)} message takes {wanted}; got {', '.join(sorted(fields))}")
    if kind == "step" and message["unit"] not in STEP_UNITS:
        unit = _short(message["unit"])
        raise ProtocolError(f"step unit must be one of {', '.join(STEP_UNITS)}, got {unit}")
    if kind == "set":
        message["values"] = check_settings(message["values"])
    if kind == "draw":
        message["points"] = check_points(message["points"])
    if kind == "ack":
        seq = message["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ProtocolError(f"ack seq must be a non-negative integer, got {_short(seq)}")
    return message


# --- binary frames -----------------------------------------------------------------------
# Layout: uint32 little-endian header length H, H bytes of UTF-8 JSON header (space-padded
# so the arrays start 4-byte aligned), then the float32 arrays back to back in the order of
# header["arrays"] = [[name, length], ...]. The page reads them as Float32Array views.


def encode_frame(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """Pack a JSON-able ``header`` and named float arrays (any shape, flattened) into bytes."""
    flat = {name: np.ascontiguousarray(values, dtype="<f4").ravel() for name, values in arrays.items()}
    header = dict(header, arrays=[[name, int(values.size)] for name, values in flat.items()])
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(4 + len(text)) % 4)
    return b"".join([struct.pack("<I", len(text)), text, *(v.tobytes() for v in flat.values())])


def decode_frame(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Inverse of ``encode_frame`` (used by tests and the benchmark)."""
    (length,) = struct.unpack_from("<I", data)
    header = json.loads(data[4 : 4 + length])
    arrays, offset = {}, 4 + length
    for name, size in header["arrays"]:
        arrays[name] = np.frombuffer(data, dtype="<f4", count=size, offset=offset)
        offset += 4 * size
    return header, arrays
