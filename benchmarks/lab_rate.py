"""How fast the lab trains and how often the page can redraw, for the default MLP sizes.

Targets (issue 4): >= 15 visual updates/s on a 2-core CPU while the server trains
>= 100 iterations/s.

Three measurements, same machine, same run of this script:

1. baseline: ``LabSession.train`` in this process, no server, no frames - the ceiling;
2. server: ``ganforge lab`` in its own process, a Python WebSocket client that decodes and
   acknowledges every frame like the page does (frames/s received, server iterations/s);
3. page: headless Chromium (if installed) on the real page; its footer's own figures
   (frames actually drawn per second, the server's iterations/s).

    .venv/bin/python benchmarks/lab_rate.py [--seconds 8] [--speeds 10,500]
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time

import torch

from ganforge.lab.protocol import decode_frame
from ganforge.lab.session import LabSession

TARGET_FPS = 15.0
TARGET_ITERATIONS = 100.0


def baseline(seconds: float) -> float:
    """Iterations/s of the bare training loop (one thread, like the server)."""
    torch.set_num_threads(1)
    session = LabSession()
    session.train(50, 60)  # warm-up
    start = time.perf_counter()
    done = 0
    while time.perf_counter() - start < seconds:
        done += session.train(1000, 0.2)
    return done / (time.perf_counter() - start)


def start_server() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ganforge", "lab", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(120):
        process.kill()
        raise SystemExit("the lab server did not start")
    return process, process.stdout.readline().split()[3]


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def websocket_client(url: str, speed: int, seconds: float) -> tuple[float, float]:
    """(frames/s received and decoded, mean server iterations/s) while playing."""
    from websockets.sync.client import connect

    with connect(url.replace("http", "ws") + "ws", max_size=None) as ws:
        ws.recv()  # hello
        ws.recv()  # first frame
        ws.send(json.dumps({"type": "set", "values": {"speed": speed}}))
        ws.send(json.dumps({"type": "play"}))
        frames, rates, first_iteration, start = 0, [], None, None
        while True:
            message = ws.recv(timeout=30)
            if isinstance(message, str):
                continue
            header, _ = decode_frame(message)
            ws.send(json.dumps({"type": "ack", "seq": header["seq"]}))
            if not header["playing"]:
                continue
            now = time.perf_counter()
            if start is None:  # count from the first playing frame on
                start, first_iteration = now, header["iteration"]
                continue
            frames += 1
            if header["rate"] is not None:
                rates.append(header["rate"])
            if now - start >= seconds:
                break
        elapsed = time.perf_counter() - start
        iterations = (header["iteration"] - first_iteration) / elapsed
        ws.send(json.dumps({"type": "pause"}))
    return frames / elapsed, iterations


def browser_page(url: str, speed_index: int, seconds: float) -> tuple[float, float] | None:
    """The page's own footer figures: (visual updates/s, server iterations/s)."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.path.exists(chromium):
        return None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        page.wait_for_function("window.lab && window.lab.frame !== null")
        page.eval_on_selector(
            "#speed", f"el => {{ el.value = {speed_index}; el.dispatchEvent(new Event('input')); }}"
        )
        page.click("#play")
        page.wait_for_timeout(2000)  # let both rate windows fill
        fps, ips = [], []
        for _ in range(max(1, int(seconds))):
            page.wait_for_timeout(1000)
            fps.append(float(page.inner_text("#fps")))
            ips.append(float(page.inner_text("#ips")))
        page.click("#play")
        browser.close()
    return sum(fps) / len(fps), sum(ips) / len(ips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring time per case")
    parser.add_argument(
        "--speeds", default="10,500", help="iterations per visual update to try (the page's speed steps)"
    )
    args = parser.parse_args()
    speeds = [int(s) for s in args.speeds.split(",")]
    page_steps = [1, 2, 5, 10, 20, 50, 100, 200, 500]

    print(
        f"lab rate benchmark: {os.cpu_count()} CPU(s), load average "
        f"{os.getloadavg()[0]:.1f} (the machine may be shared)"
    )
    base = baseline(args.seconds)
    print(f"baseline  bare LabSession.train, 1 thread         : {base:7.0f} iterations/s")

    process, url = start_server()
    try:
        for speed in speeds:
            fps, ips = websocket_client(url, speed, args.seconds)
            print(
                f"server    speed {speed:3d} it/frame, Python client : {fps:5.1f} frames/s, "
                f"{ips:6.0f} iterations/s ({ips / base:.2f}x baseline)"
            )
        for speed in speeds:
            if speed not in page_steps:
                continue
            result = browser_page(url, page_steps.index(speed), args.seconds)
            if result is None:
                print("page      skipped: playwright or Debian's chromium is missing")
                break
            fps, ips = result
            verdict = "meets" if fps >= TARGET_FPS and ips >= TARGET_ITERATIONS else "MISSES"
            print(
                f"page      speed {speed:3d} it/frame, Chromium      : {fps:5.1f} visual "
                f"updates/s, {ips:6.0f} iterations/s -> {verdict} the targets "
                f"(>= {TARGET_FPS:.0f} updates/s, >= {TARGET_ITERATIONS:.0f} it/s)"
            )
    finally:
        stop_server(process)


if __name__ == "__main__":
    main()
