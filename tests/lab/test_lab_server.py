"""The WebSocket protocol end to end, through Starlette's TestClient (no network)."""

import contextlib
import json
import time

import anyio
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ganforge.lab.protocol import MAX_DRAWN_POINTS, ProtocolError, decode_frame
from ganforge.lab.server import CLOSE_TRY_AGAIN_LATER, MAX_IN_FLIGHT, create_app

SMALL = {"width": 16, "batch_size": 32}


@pytest.fixture
def app():
    return create_app(max_sessions=2, settings=SMALL, frame_rate=40)


@pytest.fixture
def client(app):
    with TestClient(app) as client:
        yield client


def receive(ws, timeout=20.0):
    """The next message, or fail after ``timeout`` s (TestClient's own receive never gives up)."""

    async def next_message():
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    message = ws.portal.call(next_message)
    if message["type"] == "websocket.close":
        raise WebSocketDisconnect(message.get("code", 1000))
    return message


def next_frame(ws, texts=None, ack=True):
    """Skip to the next binary frame (collecting text messages); acknowledge it like the page."""
    while True:
        message = receive(ws)
        if message.get("bytes") is not None:
            header, arrays = decode_frame(message["bytes"])
            if ack:
                ws.send_json({"type": "ack", "seq": header["seq"]})
            return header, arrays
        if texts is not None:
            texts.append(json.loads(message["text"]))


def next_text(ws):
    while True:
        message = receive(ws)
        if message.get("text") is not None:
            return json.loads(message["text"])


@contextlib.contextmanager
def lab_page(client):
    """A connected page that has its hello and first frame."""
    with client.websocket_connect("/ws") as ws:
        hello = next_text(ws)
        header, arrays = next_frame(ws)
        yield ws, hello, header, arrays


def test_hello_and_first_frame(client):
    with lab_page(client) as (ws, hello, header, arrays):
        assert hello["type"] == "hello" and hello["settings"]["width"] == 16
        assert hello["spec"]["lr_d"]["max"] == 0.5 and hello["limits"]["max_points"] == MAX_DRAWN_POINTS
        assert header["iteration"] == 0 and header["playing"] is False and "real" in arrays


def test_step_units(client):
    with lab_page(client) as (ws, _, header, _):
        ws.send_json({"type": "step", "unit": "iteration"})
        header = next_frame(ws)[0]
        assert (header["iteration"], header["d_updates"], header["phase"]) == (1, 1, "iteration")
        ws.send_json({"type": "step", "unit": "d"})
        header = next_frame(ws)[0]
        assert (header["iteration"], header["d_updates"], header["phase"]) == (1, 2, "d")
        ws.send_json({"type": "step", "unit": "g"})
        header = next_frame(ws)[0]
        assert (header["iteration"], header["d_updates"], header["phase"]) == (2, 2, "g")


def test_play_streams_frames_and_pause_stops_them(client):
    with lab_page(client) as (ws, _, _, _):
        ws.send_json({"type": "set", "values": {"speed": 2}})
        next_frame(ws)
        ws.send_json({"type": "play"})
        seen = [next_frame(ws)[0] for _ in range(4)]
        assert all(h["playing"] for h in seen)
        iterations = [h["iteration"] for h in seen]
        assert iterations == sorted(iterations) and iterations[-1] > iterations[0]
        assert all(h["iteration"] - p["iteration"] <= 2 for p, h in zip(seen, seen[1:]))  # speed cap
        ws.send_json({"type": "pause"})
        header = next_frame(ws)[0]
        while header["playing"]:  # frames already on their way
            header = next_frame(ws)[0]
        session = next(iter(client.app.state.lab.connections)).session
        stopped_at = session.iteration
        time.sleep(0.3)
        assert session.iteration == stopped_at == header["iteration"]


def test_unacknowledged_frames_are_not_piled_up(client):
    with lab_page(client) as (ws, _, header, _):
        ws.send_json({"type": "play"})
        time.sleep(0.5)  # many ticks, but we acknowledge nothing
        frames = []
        ws.send_json({"type": "pause"})
        while True:
            header = next_frame(ws, ack=False)[0]
            frames.append(header)
            if not header["playing"]:
                break
        # the first frame was acknowledged in lab_page; then at most MAX_IN_FLIGHT more while playing
        assert len(frames) - 1 <= MAX_IN_FLIGHT


def test_live_and_restarting_settings(client):
    with lab_page(client) as (ws, _, _, _):
        ws.send_json({"type": "step", "unit": "iteration"})
        first = next_frame(ws)[0]
        texts = []
        ws.send_json({"type": "set", "values": {"lr_d": 0.01, "loss": "minimax"}})
        header = next_frame(ws, texts)[0]
        assert texts[-1]["type"] == "settings" and texts[-1]["restarted"] is False
        assert texts[-1]["settings"]["lr_d"] == 0.01
        assert header["run"] == first["run"] and header["iteration"] == 1 and header["loss"] == "minimax"
        ws.send_json({"type": "set", "values": {"hidden_layers": 1}})
        header, arrays = next_frame(ws, texts)
        assert texts[-1]["restarted"] is True
        assert header["run"] == first["run"] + 1 and header["iteration"] == 0 and "real" in arrays


def test_switching_data_changes_the_real_points(client):
    with lab_page(client) as (ws, _, _, arrays):
        ws.send_json({"type": "set", "values": {"data": "grid25"}})
        header, new_arrays = next_frame(ws)
        assert header["data"] == "grid25" and header["quality"]["modes_total"] == 25
        assert abs(new_arrays["real"]).max() > 3 > abs(arrays["real"]).max()


def test_drawing(client):
    with lab_page(client) as (ws, _, _, _):
        texts = []
        ws.send_json({"type": "draw", "points": [[-1, 0], [1, 0], [0, 1]]})
        header, arrays = next_frame(ws, texts)
        assert texts[-1]["settings"]["data"] == "drawn"
        assert header["data"] == "drawn" and "real" in arrays


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        '{"type": "fly"}',
        '{"type": "set", "values": {"lr_d": 7}}',
        '{"type": "set", "values": {"width": "wide"}}',
        '{"type": "draw", "points": [[0, 0]]}',
        '{"type": "step", "unit": "epoch"}',
        '{"type": "set", "values": {"width": 1' + "0" * 400 + "}}",  # OverflowError in float()
        '{"type": "set", "values": {"lr_d": 1' + "0" * 400 + "}}",
        "[" * 30_000 + "]" * 30_000,  # RecursionError in json.loads
        '{"type": "draw", "points": ' + "[" * 30_000 + "]" * 30_000 + "}",
    ],
)
def test_invalid_messages_get_an_error_and_the_session_goes_on(client, bad):
    with lab_page(client) as (ws, _, _, _):
        ws.send_text(bad)
        error = next_text(ws)
        assert error["type"] == "error" and error["code"] == "invalid" and error["message"]
        ws.send_json({"type": "step", "unit": "iteration"})
        assert next_frame(ws)[0]["iteration"] == 1


def test_binary_messages_are_refused(client):
    with lab_page(client) as (ws, _, _, _):
        ws.send_bytes(b"\x00\x01")
        assert "JSON text" in next_text(ws)["message"]


def test_requests_the_game_cannot_honour_are_rejected_not_fatal(client):
    with lab_page(client) as (ws, _, _, _):
        ws.send_json({"type": "set", "values": {"data": "drawn"}})  # nothing drawn yet
        error = next_text(ws)
        assert error["code"] == "rejected" and "draw at least 2 points" in error["message"]
        header = next_frame(ws)[0]
        assert header["data"] == "ring8"


def test_session_limit(client):
    with lab_page(client), lab_page(client):
        with client.websocket_connect("/ws") as third:
            busy = next_text(third)
            assert busy["code"] == "busy" and "2 sessions" in busy["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                receive(third)
            assert closed.value.code == CLOSE_TRY_AGAIN_LATER
    with lab_page(client) as (_, hello, _, _):  # a freed place can be taken again
        assert hello["type"] == "hello"


def test_closing_the_page_stops_its_training(client):
    server = client.app.state.lab
    with client.websocket_connect("/ws") as ws:
        next_frame(ws)
        ws.send_json({"type": "play"})
        next_frame(ws)
        session = next(iter(server.connections)).session
    assert server.active == 0 and not server.connections
    time.sleep(0.2)  # a chunk already running in the pool may finish
    stopped_at = session.iteration
    time.sleep(0.4)
    assert session.iteration == stopped_at > 0


def test_other_sites_cannot_open_a_session(client):
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}):
            pass
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        assert next_text(ws)["type"] == "hello"


def test_pages_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and "ganforge lab" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN, nothing remote
    for name in ("app.js", "charts.js", "style.css", "run.js"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/run", follow_redirects=False).status_code in (302, 307)


def test_bad_start_settings_fail_at_once():
    with pytest.raises(ProtocolError, match="width"):
        create_app(settings={"width": 0})
    with pytest.raises(ProtocolError, match="drawn"):
        create_app(settings={"data": "drawn"})


def test_a_loopback_lab_answers_only_to_loopback_names():
    app = create_app(settings=SMALL, loopback_only=True)
    with TestClient(app) as client:
        for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765"):
            assert client.get(f"http://{host}/").status_code == 200
        with client.websocket_connect("ws://127.0.0.1:8765/ws") as ws:
            assert next_text(ws)["type"] == "hello"
        # DNS rebinding: an attacker's name that resolves to 127.0.0.1
        assert client.get("http://rebound.example:8765/").status_code == 400
        with pytest.raises(WebSocketDisconnect):
            with client.websocket_connect("ws://rebound.example:8765/ws"):
                pass
