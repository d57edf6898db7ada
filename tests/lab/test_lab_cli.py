"""`ganforge lab` as a user runs it: serves, trains over a real WebSocket, stops on Ctrl-C."""

import json
import selectors
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from websockets.sync.client import connect

from ganforge.cli import main
from ganforge.lab.protocol import decode_frame


def read_line(process, timeout):
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout):
        process.kill()
        pytest.fail(f"`ganforge lab` printed nothing within {timeout} s")
    return process.stdout.readline()


def test_serves_trains_and_stops_cleanly_on_ctrl_c():
    process = subprocess.Popen(
        [sys.executable, "-m", "ganforge", "lab", "--port", "0", "--loss", "minimax"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = read_line(process, timeout=60)
        assert line.startswith("ganforge lab: serving http://127.0.0.1:"), line
        url = line.split()[3]
        assert "ganforge lab" in httpx.get(url, timeout=10).text
        with connect(url.replace("http", "ws") + "ws", open_timeout=10) as ws:
            hello = json.loads(ws.recv(timeout=20))
            assert hello["settings"]["loss"] == "minimax"
            ws.recv(timeout=20)  # first frame
            ws.send(json.dumps({"type": "play"}))
            for _ in range(3):
                header, _ = decode_frame(ws.recv(timeout=20))
                ws.send(json.dumps({"type": "ack", "seq": header["seq"]}))
            assert header["playing"] and header["iteration"] > 0
            process.send_signal(signal.SIGINT)  # Ctrl-C while a page is training
            assert process.wait(timeout=20) == 0
        out, err = process.communicate(timeout=5)
        assert "ganforge lab: stopped" in out
        assert "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_busy_port_is_a_one_line_error(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_:
            main(["lab", "--port", str(port)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error: cannot listen on 127.0.0.1:") and "\n" not in err


def test_other_hosts_get_a_warning_once_listening(capsys, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)  # serve nothing
    with pytest.raises(SystemExit) as exit_:
        main(["lab", "--host", "0.0.0.0", "--port", "0"])
    assert exit_.value.code == 0
    assert "warning: listening on 0.0.0.0" in capsys.readouterr().err


def test_an_address_that_cannot_be_used_is_one_line_without_the_warning(capsys):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen(1)
        with pytest.raises(SystemExit) as exit_:
            main(["lab", "--host", "0.0.0.0", "--port", str(taken.getsockname()[1])])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2
    assert err.startswith("ganforge: error: cannot listen on 0.0.0.0:") and "\n" not in err


def test_bad_arguments(tmp_path, capsys):
    for argv, problem in (
        (["lab", "--run", str(tmp_path / "nope")], "no such folder"),
        (["lab", "--max-sessions", "0"], "--max-sessions"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        assert problem in capsys.readouterr().err
