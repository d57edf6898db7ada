"""Client-message checks and the binary frame format."""

import json

import numpy as np
import pytest

from ganforge.lab.protocol import (
    MAX_DRAWN_POINTS,
    MAX_MESSAGE_CHARS,
    ProtocolError,
    decode_frame,
    encode_frame,
    parse_message,
)


def msg(**fields):
    return json.dumps(fields)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "play"},
        {"type": "pause"},
        {"type": "reset"},
        {"type": "step", "unit": "d"},
        {"type": "step", "unit": "iteration"},
        {"type": "set", "values": {"lr_d": 0.01, "loss": "minimax", "width": 32.0}},
        {"type": "draw", "points": [[0, 0], [1.5, -1.5]]},
        {"type": "ack", "seq": 3},
    ],
)
def test_valid_messages_pass(message):
    assert parse_message(json.dumps(message))["type"] == message["type"]


def test_checked_values_are_converted():
    command = parse_message(msg(type="set", values={"width": 32.0, "seed": 7}))
    assert command["values"] == {"width": 32, "seed": 7}
    assert isinstance(command["values"]["width"], int)


@pytest.mark.parametrize(
    "text, problem",
    [
        (b'{"type": "play"}', "JSON text"),
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (msg(kind="play"), "JSON object"),
        (msg(type="fly"), "unknown message type"),
        (msg(type="play", extra=1), "takes no other fields"),
        (msg(type="step"), "takes unit"),
        (msg(type="step", unit="epoch"), "step unit"),
        (msg(type="set", values={}), "non-empty"),
        (msg(type="set", values=[1]), "non-empty"),
        (msg(type="set", values={"lr_d": "fast"}), "lr_d must be a number"),
        (msg(type="set", values={"lr_d": 2.0}), r"lr_d must be in \[1e-05, 0.5\]"),
        (msg(type="set", values={"lr_d": 0}), "lr_d must be in"),
        ('{"type": "set", "values": {"lr_g": NaN}}', "finite"),
        (msg(type="set", values={"width": 10_000}), "width must be in"),
        (msg(type="set", values={"width": 12.5}), "whole number"),
        (msg(type="set", values={"d_steps": True}), "must be a number"),
        (msg(type="set", values={"loss": "magic"}), "loss must be one of"),
        (msg(type="set", values={"depth": 3}), "unknown setting 'depth'"),
        (msg(type="draw", points=[[0, 0]]), "list of 2 to"),
        (msg(type="draw", points=[[0, 0]] * (MAX_DRAWN_POINTS + 1)), "list of 2 to"),
        (msg(type="draw", points=[[0, 0], [9, 9]]), "outside the drawing area"),
        (msg(type="draw", points=[[0, 0], [1]]), r"\[x, y\]"),
        (msg(type="draw", points=[[0, 0], ["a", 1]]), r"\[x, y\]"),
        ('{"type": "draw", "points": [[0, 0], [NaN, 0]]}', "outside the drawing area"),
        (msg(type="ack", seq=-1), "non-negative"),
        (msg(type="ack", seq="1"), "non-negative"),
        ("x" * (MAX_MESSAGE_CHARS + 1), "too long"),
    ],
)
def test_invalid_messages_are_refused_with_a_reason(text, problem):
    with pytest.raises(ProtocolError, match=problem):
        parse_message(text)


def test_frames_round_trip_and_align_arrays():
    arrays = {"a": np.arange(5, dtype=np.float32), "b": np.ones((2, 3), dtype=np.float64)}
    for header in ({"x": 1}, {"x": "longer header text"}):
        data = encode_frame(header, arrays)
        assert (4 + int.from_bytes(data[:4], "little")) % 4 == 0  # Float32Array needs this
        decoded, out = decode_frame(data)
        assert decoded["x"] == header["x"]
        np.testing.assert_array_equal(out["a"], arrays["a"])
        np.testing.assert_array_equal(out["b"], arrays["b"].ravel().astype(np.float32))
        assert decoded["arrays"] == [["a", 5], ["b", 6]]


@pytest.mark.parametrize(
    "text, problem",
    [
        (msg(type="set", values={"width": 10**400}), r"width must be in \[4, 256\], got 1000"),
        (msg(type="set", values={"lr_d": 10**400}), "lr_d must be in"),
        (msg(type="set", values={"seed": -(10**400)}), "seed must be in"),
        (msg(type="draw", points=[[0, 0], [10**400, 0]]), "outside the drawing area"),
        ('{"type": "set", "values": ' + "[" * 30_000 + "]" * 30_000 + "}", "nested too deeply"),
        ("[" * 30_000 + "]" * 30_000, "nested too deeply"),
    ],
)
def test_huge_numbers_and_deep_nesting_are_refused_not_raised(text, problem):
    # OverflowError (float of a 400-digit int) and RecursionError (json's parser) used to
    # escape parse_message and drop the page's session without an error frame.
    with pytest.raises(ProtocolError, match=problem) as caught:
        parse_message(text)
    assert len(str(caught.value)) < 200  # the huge value is not echoed back whole
