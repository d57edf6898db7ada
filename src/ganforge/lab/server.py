"""The lab's web server: Starlette on uvicorn, one WebSocket and one ``LabSession`` per page.

Event loop vs. PyTorch: the loop only moves messages. Every torch call (building models,
training chunks, building frames, run-folder diagnostics) runs in a small shared thread
pool (``workers`` threads), so a slow step never blocks other pages or the page's own
controls. Each page's driver has at most one job in that pool at a time, and a training
chunk lasts at most ~80% of one frame interval, so pausing, closing the tab or Ctrl-C take
effect within a frame.

Flow control: the page acknowledges each frame it has drawn (``ack``); the server keeps at
most ``MAX_IN_FLIGHT`` unacknowledged frames and skips drawing frames beyond that, while
training goes on. A slow page therefore sees fewer frames, never a growing backlog.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import torch
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from ganforge.errors import GanforgeError
from ganforge.lab.protocol import (
    DRAW_BOUNDS,
    MAX_DRAWN_POINTS,
    MAX_MESSAGE_CHARS,
    SETTINGS,
    ProtocolError,
    check_settings,
    default_settings,
    parse_message,
)
from ganforge.lab.session import LabSession

STATIC_DIR = Path(__file__).parent / "static"
MAX_IN_FLIGHT = 2  # frames sent but not yet drawn by the page
MAX_QUEUED_COMMANDS = 32  # a page that floods us gets error frames, not memory growth
CLOSE_TRY_AGAIN_LATER = 1013  # WebSocket close code: server busy
log = logging.getLogger("ganforge.lab")


class LabServer:
    """Shared state of one app: the worker pool, the session count and the start settings."""

    def __init__(
        self,
        max_sessions: int,
        settings: dict[str, Any],
        frame_rate: float,
        workers: int,
        torch_threads: int | None,
    ):
        self.max_sessions = max_sessions
        self.settings = settings
        self.frame_rate = frame_rate
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lab-torch")
        self.torch_threads = torch_threads
        self.active = 0
        self.connections: set[LabConnection] = set()

    def try_open(self) -> bool:
        # No await between the check and the increment: atomic on the event loop.
        if self.active >= self.max_sessions:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        self.active -= 1

    async def work(self, fn, *args):
        """Run ``fn(*args)`` (torch work) in the pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args))


class _Closed(Exception):
    """The page went away while we were sending to it."""


class RateMeter:
    """Events per second over the last ``window`` seconds."""

    def __init__(self, window: float = 2.0):
        self.window = window
        self.events: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, count: int, now: float) -> None:
        self.events.append((now, count))
        while self.events and self.events[0][0] < now - self.window:
            self.events.popleft()

    def rate(self, now: float) -> float | None:
        if len(self.events) < 2:
            return None
        span = now - self.events[0][0]
        total = sum(count for _, count in list(self.events)[1:])
        return total / span if span > 0 else None


class LabConnection:
    """One page: receives and checks its messages, drives its session, sends its frames."""

    def __init__(self, ws: WebSocket, server: LabServer):
        self.ws = ws
        self.server = server
        self.commands: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MAX_QUEUED_COMMANDS)
        self.wake = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.session: LabSession | None = None
        self.playing = False
        self.seq = 0  # frames sent
        self.acked = -1  # highest frame seq the page has drawn
        self.meter = RateMeter()

    # --- sending ---------------------------------------------------------------------------

    async def _send(self, text: str | None = None, data: bytes | None = None) -> None:
        async with self.send_lock:
            try:
                if data is not None:
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_text(text)
            except Exception as err:  # disconnect, closed transport: the page is gone
                raise _Closed from err

    async def send_json(self, message: dict[str, Any]) -> None:
        await self._send(text=json.dumps(message))

    async def send_error(self, message: str, code: str = "invalid") -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def send_frame(self) -> None:
        now = time.perf_counter()
        rate = self.meter.rate(now) if self.playing else None
        data = await self.server.work(self.session.frame, self.seq, self.playing, rate)
        self.seq += 1
        await self._send(data=data)

    async def send_settings(self, restarted: bool) -> None:
        await self.send_json({"type": "settings", "settings": self.session.settings, "restarted": restarted})

    # --- the two loops ---------------------------------------------------------------------

    async def serve(self) -> None:
        try:
            self.session = await self.server.work(LabSession, dict(self.server.settings))
        except GanforgeError as err:
            await self.send_error(str(err), code="failed")
            return
        await self.send_json(
            {
                "type": "hello",
                "settings": self.session.settings,
                "spec": {name: spec.describe() for name, spec in SETTINGS.items()},
                "limits": {
                    "max_points": MAX_DRAWN_POINTS,
                    "draw_bounds": list(DRAW_BOUNDS),
                    "max_message_chars": MAX_MESSAGE_CHARS,
                    "max_in_flight": MAX_IN_FLIGHT,
                },
                "frame_rate": self.server.frame_rate,
            }
        )
        await self.send_frame()
        tasks = {asyncio.create_task(self._receive_loop()), asyncio.create_task(self._drive_loop())}
        try:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, _Closed):
                log.error("lab session failed", exc_info=error)

    async def _receive_loop(self) -> None:
        """Check each message; queue commands for the driver, answer bad ones with an error."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                command = parse_message(message.get("text"))
            except ProtocolError as err:
                await self.send_error(str(err))
                continue
            except Exception as err:  # a check we did not foresee: answer, never drop the page
                log.warning("lab message refused by an unexpected error", exc_info=err)
                await self.send_error(f"message refused ({type(err).__name__}); see the lab's log")
                continue
            if command["type"] == "ack":
                self.acked = max(self.acked, min(command["seq"], self.seq - 1))
                continue
            try:
                self.commands.put_nowait(command)
            except asyncio.QueueFull:
                await self.send_error("too many commands at once; wait for the page to catch up", code="busy")
                continue
            self.wake.set()

    async def _drive_loop(self) -> None:
        """Apply commands between training chunks; while playing, one chunk + frame per tick."""
        interval = 1.0 / self.server.frame_rate
        next_tick = time.perf_counter()
        while True:
            while not self.commands.empty():
                await self._apply(self.commands.get_nowait())
            now = time.perf_counter()
            if not self.playing:
                await self._sleep(None)
                next_tick = time.perf_counter()
                continue
            if now < next_tick:
                await self._sleep(next_tick - now)
                continue
            next_tick = max(next_tick + interval, now)  # no burst of catch-up ticks
            done = await self.server.work(self.session.train, self.session.settings["speed"], 0.8 * interval)
            self.meter.add(done, time.perf_counter())
            if self.session.diverged:
                self.playing = False
                await self.send_error(
                    f"a loss became NaN/inf at iteration "
                    f"{self.session.iteration}; training paused. Lower the "
                    "learning rates or try another loss, then reset",
                    code="diverged",
                )
                await self.send_frame()
            elif self.seq - 1 - self.acked < MAX_IN_FLIGHT:
                await self.send_frame()

    async def _sleep(self, timeout: float | None) -> None:
        """Wait ``timeout`` seconds (None: forever), or until a command arrives."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)
        self.wake.clear()

    async def _apply(self, command: dict[str, Any]) -> None:
        kind = command["type"]
        if kind == "play":
            if self.session.diverged:
                await self.send_error("this game diverged (NaN/inf); reset it first", code="diverged")
                return
            self.playing = True
            self.meter = RateMeter()
            return
        self.playing = False if kind in ("pause", "step") else self.playing
        try:
            if kind == "step":
                await self.server.work(self.session.step, command["unit"])
            elif kind == "reset":
                await self.server.work(self.session.restart)
            elif kind == "set":
                await self.send_settings(await self.server.work(self.session.apply, command["values"]))
            elif kind == "draw":
                await self.server.work(self.session.set_drawn, command["points"])
                await self.send_settings(True)
        except GanforgeError as err:
            await self.send_error(str(err), code="rejected")
        await self.send_frame()


LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}


class LoopbackHostOnly:
    """ASGI middleware: refuse requests whose Host header is not a loopback name.

    A lab bound to 127.0.0.1 is still reachable from a web page through DNS rebinding
    (evil.example resolving to 127.0.0.1); such requests carry the attacker's host name.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if urlsplit(f"//{host}").hostname not in LOOPBACK_NAMES:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    response = Response("this lab only answers to localhost / 127.0.0.1", status_code=400)
                    await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _same_origin(ws: WebSocket) -> bool:
    """Browsers send Origin: refuse pages of other sites (cross-site WebSocket hijacking)."""
    origin = ws.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == ws.headers.get("host")


async def lab_socket(ws: WebSocket) -> None:
    server: LabServer = ws.app.state.lab
    if not _same_origin(ws):
        await ws.close(code=1008)
        return
    await ws.accept()
    if not server.try_open():
        await ws.send_text(
            json.dumps(
                {
                    "type": "error",
                    "code": "busy",
                    "message": f"the lab already runs {server.max_sessions} sessions; close a tab or "
                    "restart it with a higher --max-sessions",
                }
            )
        )
        await ws.close(code=CLOSE_TRY_AGAIN_LATER)
        return
    connection = LabConnection(ws, server)
    server.connections.add(connection)
    try:
        await connection.serve()
    except _Closed:
        pass
    finally:
        server.connections.discard(connection)
        server.release()
        with contextlib.suppress(Exception):
            await ws.close()


# --- image mode: read-only routes over a run folder ------------------------------------------


def _answer_errors(handler, error_status: int = 409):
    """Route wrapper: ganforge's own errors become ``{"error": message}`` with
    ``error_status``; anything else is logged with its traceback
    and answered 500 with one short line, never a traceback page."""

    @functools.wraps(handler)
    async def route(request: Request) -> Response:
        try:
            return await handler(request)
        except GanforgeError as err:
            return JSONResponse({"error": str(err)}, status_code=error_status)
        except Exception as err:
            return _internal_error(request, err)

    return route


def _internal_error(request: Request, err: Exception) -> Response:
    log.error("lab: %s %s failed", request.method, request.url.path, exc_info=err)
    first = (str(err).splitlines() or [""])[0][:160]
    message = f"internal error: {type(err).__name__}: {first} (details in the lab's log)"
    return JSONResponse({"error": message}, status_code=500)


async def _unexpected(request: Request, err: Exception) -> Response:
    """App-wide handler for the routes without their own wrapper (pages, static files)."""
    return _internal_error(request, err)


def _run_routes(run_view) -> list[Route]:
    async def summary(request: Request) -> Response:
        return JSONResponse(await request.app.state.lab.work(run_view.summary))

    async def sample(request: Request) -> Response:
        return FileResponse(run_view.sample_path(request.path_params["name"]), media_type="image/png")

    async def diagnostics(request: Request) -> Response:
        return JSONResponse(await request.app.state.lab.work(run_view.diagnostics))

    async def walk(request: Request) -> Response:
        try:
            t = float(request.query_params.get("t", "0"))
        except ValueError:
            t = float("nan")
        if not 0 <= t <= 1:
            return JSONResponse({"error": "t must be a number in [0, 1]"}, status_code=400)
        png = await request.app.state.lab.work(run_view.walk_png, t)
        return Response(png, media_type="image/png")

    return [
        Route("/api/run", _answer_errors(summary)),
        Route("/api/run/samples/{name}", _answer_errors(sample, error_status=404)),
        Route("/api/run/diagnostics", _answer_errors(diagnostics)),
        Route("/api/run/walk", _answer_errors(walk)),
    ]


def _lifespan(server: LabServer, torch_threads: int | None):
    """Set torch's thread count while the app runs; stop the worker pool when it ends."""

    @contextlib.asynccontextmanager
    async def lifespan(app):
        previous = torch.get_num_threads()
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
        try:
            yield
        finally:
            server.executor.shutdown(wait=True, cancel_futures=True)
            if torch_threads is not None:
                torch.set_num_threads(previous)

    return lifespan


def _page_routes(has_run: bool) -> list:
    """The two pages, the WebSocket and the static files."""

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html")

    async def run_page(request: Request) -> Response:
        if not has_run:
            return RedirectResponse("/")
        return FileResponse(STATIC_DIR / "run.html")

    return [
        Route("/", index),
        Route("/run", run_page),
        WebSocketRoute("/ws", lab_socket),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def create_app(
    *,
    max_sessions: int = 4,
    settings: dict[str, Any] | None = None,
    run_dir: str | Path | None = None,
    frame_rate: float = 20.0,
    workers: int = 2,
    torch_threads: int | None = 1,
    loopback_only: bool = False,
) -> Starlette:
    """The lab as an ASGI app.

    ``settings`` are the start values of new pages (checked like a page's ``set``);
    ``run_dir`` adds the read-only run view at ``/run``; ``torch_threads`` is applied while
    the app runs (1 by default: for these small MLPs, handing work to more threads costs
    more than it saves, badly so on a busy 2-core machine); None leaves torch alone.
    ``loopback_only`` refuses requests addressed to any host name but a loopback one
    (``LoopbackHostOnly``); the CLI turns it on when it listens on loopback.
    """
    start = default_settings()
    if settings:
        start.update(check_settings(settings))
    if start["data"] == "drawn":
        raise ProtocolError("a lab cannot start on 'drawn' data: pick a data set, then draw")
    server = LabServer(max_sessions, start, frame_rate, workers, torch_threads)
    run_view = None
    if run_dir is not None:
        from ganforge.lab.runview import RunView

        run_view = RunView(run_dir)

    routes = _page_routes(run_view is not None)
    if run_view is not None:
        routes += _run_routes(run_view)
    middleware = [Middleware(LoopbackHostOnly)] if loopback_only else []
    app = Starlette(
        routes=routes,
        lifespan=_lifespan(server, torch_threads),
        middleware=middleware,
        exception_handlers={Exception: _unexpected},
    )
    app.state.lab = server
    return app
