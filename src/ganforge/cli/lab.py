"""``ganforge lab``: serve the live view of the game (and, with --run, a run folder's view)."""

from __future__ import annotations

import socket
import sys

from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES

LOOPBACK = ("127.0.0.1", "localhost", "::1")
POINT_SETS = ("ring8", "grid25", "spiral", "moons")


def add_parser(subparsers):
    p = subparsers.add_parser("lab", help="watch the minimax game live in the browser")
    p.add_argument("--port", type=int, default=8765, help="port to serve on (0: any free port)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; anything but loopback exposes the lab (no login)",
    )
    p.add_argument("--data", default="ring8", choices=POINT_SETS, help="start data set")
    p.add_argument("--loss", default="nonsaturating", choices=list(LOSSES), help="start loss")
    p.add_argument(
        "--run", metavar="DIR", help="also serve a read-only view of this `ganforge train` run folder at /run"
    )
    p.add_argument(
        "--max-sessions", type=int, default=4, help="pages that may train at once; more are turned away"
    )
    return p


def _listen(host: str, port: int) -> socket.socket:
    """Bind here, so a busy port is a one-line error rather than a server log."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        raise GanforgeError(
            f"cannot listen on {host}:{port} ({err.strerror or err}); pick another --port or --host"
        ) from None
    sock.listen(128)
    return sock


def run(args) -> int:
    try:
        import uvicorn

        from ganforge.lab.server import create_app
    except ImportError as err:
        raise GanforgeError(
            f"the lab needs its extra packages ({err.name} is missing): pip install 'ganforge[lab]'"
        ) from None
    if not 1 <= args.max_sessions <= 64:
        raise GanforgeError("--max-sessions must be between 1 and 64")
    if not 0 <= args.port <= 65535:
        raise GanforgeError("--port must be between 0 and 65535")
    app = create_app(
        max_sessions=args.max_sessions,
        run_dir=args.run,
        settings={"data": args.data, "loss": args.loss},
        loopback_only=args.host in LOOPBACK,
    )
    sock = _listen(args.host, args.port)  # first: a bad address fails before any warning
    if args.host not in LOOPBACK:
        print(
            f"ganforge lab: warning: listening on {args.host}: anyone who can reach it can "
            "use this lab (it has no login) and run training on this machine",
            file=sys.stderr,
        )
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    page = "/run" if args.run else "/"
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", ws_max_size=1 << 18, timeout_graceful_shutdown=5
    )
    print(f"ganforge lab: serving http://{shown}:{port}{page} (Ctrl-C stops)", flush=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: we are done
        pass
    finally:
        sock.close()
    print("ganforge lab: stopped", flush=True)
    return 0
