"""The lab in a real headless Chromium (Debian's), driven by Playwright.

Needs ``apt-get install chromium`` and ``pip install playwright`` (no ``playwright install``:
we launch the system browser). Without them these tests skip with the reason. Screenshots
of every test land in ``test-artifacts/lab/`` (gitignored); the ring8 mid-training one is
the README's picture (docs/lab.png).
"""

import contextlib
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import torch

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
uvicorn = pytest.importorskip("uvicorn", reason="the lab extra is not installed")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

from ganforge.config import load_config  # noqa: E402  (after the skips)
from ganforge.lab.server import create_app  # noqa: E402
from ganforge.training.loop import train  # noqa: E402

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "lab"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


class ServerThread:
    """uvicorn serving ``app`` on a free loopback port, in a daemon thread."""

    def __init__(self, app):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                pytest.fail("the lab server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.socket.close()


@pytest.fixture(scope="module")
def server(digits_run):
    with ServerThread(create_app(max_sessions=8, run_dir=digits_run)) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def new_tab(browser, url, name):
    """A fresh tab; fails the test on any console error; leaves a screenshot behind."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.url_base = url
    yield tab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    assert errors == [], f"console errors: {errors}"


@pytest.fixture
def page(browser, server, request):
    with new_tab(browser, server.url, request.node.name) as tab:
        yield tab


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory):
    """300 steps of a 2-D GAN on ring8, scored every 50 steps (metrics.csv rows every 10):
    sparse score columns, and a generator-best chosen by the lowest reverse_kl."""
    run_dir = tmp_path_factory.mktemp("runs") / "ring8-eval"
    overrides = ["data.name=ring8", "model.name=mlp", "model.z_dim=2", "model.g_width=64"]
    overrides += ["model.d_width=64", "train.steps=300", "train.log_every=10", "train.lr_g=0.002"]
    overrides += ["train.lr_d=0.002", "train.sample_every=300", "train.checkpoint_every=300"]
    overrides += ["eval.every=50", "eval.best_metric=reverse_kl"]
    cfg = load_config(overrides=[f"run.dir={run_dir}", "run.progress=false", *overrides])
    torch.manual_seed(0)
    train(cfg)
    return run_dir


@pytest.fixture(scope="module")
def eval_page(browser, eval_run, request):
    with ServerThread(create_app(run_dir=eval_run)) as running:
        with new_tab(browser, running.url, "run-page-eval-scores") as tab:
            yield tab


def open_lab(page):
    page.goto(page.url_base + "/")
    page.wait_for_function("window.lab && window.lab.frame !== null && window.lab.real !== null")


def counter(page, element_id):
    return int(page.inner_text(f"#{element_id}"))


def test_page_loads_and_draws_the_first_frame(page):
    open_lab(page)
    assert page.inner_text("#status") == "paused"
    assert page.inner_text("#connection") == "connected"
    assert page.eval_on_selector_all("#loss option", "options => options.length") == 5
    assert page.evaluate("lab.frame.arrays.heat.length") == 32 * 32
    # the heat map really is on the canvas: its centre pixel is not plain white
    pixel = page.evaluate("""() => {
        const c = document.getElementById('data-canvas');
        return Array.from(c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data);
    }""")
    assert pixel[:3] != [255, 255, 255]


def test_play_advances_the_counter_and_pause_stops_it(page):
    open_lab(page)
    page.click("#play")
    page.wait_for_function("+document.getElementById('iteration').textContent > 20")
    assert page.get_attribute("#play", "data-playing") == "true"
    page.wait_for_function("+document.getElementById('chart-loss').dataset.points > 3")
    page.wait_for_function("parseFloat(document.getElementById('fps').textContent) > 0")
    page.wait_for_function("document.getElementById('ips').textContent !== '–'")
    page.click("#play")
    page.wait_for_function("window.lab.frame.header.playing === false")
    stopped_at = counter(page, "iteration")
    page.wait_for_timeout(800)
    assert counter(page, "iteration") == stopped_at
    assert page.inner_text("#status") == "paused"


def test_step_advances_by_exactly_one(page):
    open_lab(page)
    before = counter(page, "iteration")
    page.click("#step")
    page.wait_for_function(f"+document.getElementById('iteration').textContent === {before + 1}")
    page.wait_for_timeout(500)
    assert counter(page, "iteration") == before + 1
    # one D update alone: D's counter moves, the iteration does not
    page.select_option("#step-unit", "d")
    d_before = counter(page, "d-updates")
    page.click("#step")
    page.wait_for_function(f"+document.getElementById('d-updates').textContent === {d_before + 1}")
    assert counter(page, "iteration") == before + 1
    assert "active" in page.get_attribute("#ov-d", "class")
    assert "active" not in page.get_attribute("#ov-g", "class")


def test_a_refused_setting_shows_the_reason_and_is_undone(page):
    open_lab(page)
    page.fill("#lr-d", "5")
    page.dispatch_event("#lr-d", "change")
    page.wait_for_function("!document.getElementById('message').hidden")
    assert "lr_d must be in" in page.inner_text("#message")
    assert page.input_value("#lr-d") == "0.001"
    page.fill("#lr-d", "0.002")  # a valid value applies live
    page.dispatch_event("#lr-d", "change")
    page.wait_for_function("window.lab.settings.lr_d === 0.002")


def test_switching_the_data_set_changes_the_real_points(page):
    open_lab(page)
    ring = page.evaluate("Array.from(lab.real)")
    page.select_option("#data", "grid25")
    page.wait_for_function("lab.frame.header.data === 'grid25'")
    grid = page.evaluate("Array.from(lab.real)")
    assert grid != ring
    assert max(map(abs, ring)) < 1.5 < 3.5 < max(map(abs, grid))


def test_drawing_points_makes_them_the_data(page):
    open_lab(page)
    page.select_option("#data", "drawn")
    assert page.is_visible("#draw-tools")
    box = page.locator("#data-canvas").bounding_box()
    spots = [(0.2, 0.2), (0.8, 0.2), (0.5, 0.5), (0.2, 0.8), (0.8, 0.8)]
    for fx, fy in spots:
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    assert page.inner_text("#draw-count") == "5"
    page.click("#draw-train")
    page.wait_for_function("lab.frame.header.data === 'drawn'")
    drawn = page.evaluate("lab.drawn")
    real = page.evaluate("Array.from(lab.real)")
    # canvas spots map to data points (y up), and every real point is a jittered drawn one
    assert drawn[0][0] < 0 < drawn[0][1] and drawn[4][0] > 0 > drawn[4][1]
    for x, y in zip(real[::2], real[1::2]):
        assert min((x - a) ** 2 + (y - b) ** 2 for a, b in drawn) < 0.2**2
    page.click("#play")
    page.wait_for_function("+document.getElementById('iteration').textContent > 5")
    page.click("#play")


def test_ring8_mid_training_screenshot(page):
    open_lab(page)
    page.eval_on_selector("#speed", "el => { el.value = 6; el.dispatchEvent(new Event('input')); }")
    page.click("#play")
    # 1,500 iterations take ~15 s on an idle machine; the generous limit is for a loaded one
    # (a picture, not a speed test).
    page.wait_for_function("+document.getElementById('iteration').textContent >= 1500", timeout=180_000)
    page.click("#play")
    page.wait_for_function("window.lab.frame.header.playing === false")
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab-ring8-mid-training.png"))
    assert page.evaluate("lab.charts.quality.xs.length") > 3


def test_run_page_shows_a_run_folder(page):
    page.goto(page.url_base + "/run")
    page.wait_for_function("window.runView && window.runView.diagnostics !== undefined")
    page.wait_for_function("document.getElementById('sample').naturalWidth > 0")
    page.wait_for_function("document.getElementById('walk-image').naturalWidth > 0")
    assert page.inner_text("#run-step") == "40"
    assert int(page.get_attribute("#run-loss-chart", "data-points")) == 4
    first = page.get_attribute("#walk-image", "src")
    page.eval_on_selector("#walk", "el => { el.value = 100; el.dispatchEvent(new Event('input')); }")
    page.wait_for_function(f"document.getElementById('walk-image').src !== '{first}'")
    assert page.locator("#grad-norms .row").count() > 0


SERIES_RGB = (5, 113, 176)  # run.js draws score series in #0571b0
BEST_RGB = (214, 96, 77)  # charts.js rings the best value in #d6604d
COUNT_PLOT_PIXELS = """([canvas, rgb]) => {
    // Pixels of colour rgb inside the plot frame only (the legend text is drawn in the
    // series colour too, and must not count as a drawn curve).
    const ratio = window.devicePixelRatio || 1;
    const x0 = Math.ceil(45 * ratio), y0 = Math.ceil(19 * ratio);
    const w = canvas.width - x0 - Math.ceil(9 * ratio), h = canvas.height - y0 - Math.ceil(17 * ratio);
    const data = canvas.getContext("2d").getImageData(x0, y0, w, h).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
        const near = [0, 1, 2].every((c) => Math.abs(data[i + c] - rgb[c]) <= 12);
        if (near && data[i + 3] > 200) count++;
    }
    return count;
}"""


@pytest.mark.parametrize("column, direction", [("reverse_kl", "lower"), ("modes_covered", "higher")])
def test_sparse_score_charts_draw_points_and_ring_the_best(eval_page, eval_run, column, direction):
    # Issue 16: score columns filled every eval.every steps, empty between, drew nothing.
    page = eval_page
    if not page.url.endswith("/run"):
        page.goto(page.url_base + "/run")
    selector = f'canvas[data-column="{column}"]'
    page.wait_for_function(
        f"document.querySelector('{selector}') && document.querySelector('{selector}').dataset.best"
    )
    canvas = page.locator(selector)
    assert canvas.get_attribute("data-sparse") == "true"
    summary = page.evaluate("fetch('/api/run').then((r) => r.json())")
    assert summary["scores"]["directions"][column] == direction
    steps, values = summary["metrics"]["step"], summary["metrics"][column]
    scored = [(s, v) for s, v in zip(steps, values) if v is not None]
    assert 3 <= len(scored) < len(steps) / 2  # the run really is sparse
    # the ring sits on the best value in the server's direction; for the score that chose
    # generator-best, on the step written in generator-best.json
    pick = min if direction == "lower" else max
    best_value = pick(v for _, v in scored)
    best_step = int(canvas.get_attribute("data-best"))
    assert dict(scored)[best_step] == best_value
    if column == "reverse_kl":
        chosen = json.loads((eval_run / "generator-best.json").read_text())["eval"]
        assert best_step == chosen["step"] and summary["scores"]["best"]["metric"] == column
    handle = canvas.element_handle()
    assert page.evaluate(COUNT_PLOT_PIXELS, [handle, list(SERIES_RGB)]) > 40
    assert page.evaluate(COUNT_PLOT_PIXELS, [handle, list(BEST_RGB)]) > 10
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    canvas.screenshot(path=str(ARTIFACTS / f"score-chart-{column}.png"))
