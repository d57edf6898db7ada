"""Image mode: alarms from metrics.csv, live diagnostics from a checkpoint, read-only routes."""

import json
import logging
import math
import os
import shutil

import numpy as np
import pytest
from starlette.testclient import TestClient

from ganforge.config import ModelConfig
from ganforge.lab import server as lab_server
from ganforge.lab.alarms import D_WINS_FAKE, find_alarms
from ganforge.lab.runview import (
    DIAGNOSTIC_BATCH,
    RunView,
    RunViewError,
    read_metrics_tolerant,
)
from ganforge.lab.server import create_app
from ganforge.models import MODELS, build_models


def snapshot(folder):
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")}


def metrics(rows, **columns):
    table = {"step": [float(10 * (i + 1)) for i in range(rows)]}
    table.update({k: [float(v) for v in values] for k, values in columns.items()})
    return table


def kinds(alarms):
    return sorted(a["kind"] for a in alarms)


def test_healthy_metrics_raise_no_alarm():
    table = metrics(10, d_loss=[1.3] * 10, g_loss=[0.8] * 10, d_real=[0.55] * 10, d_fake=[0.45] * 10)
    assert find_alarms(table, probabilistic=True) == []


def test_nan_loss_is_divergence_at_its_step():
    table = metrics(5, d_loss=[1, 1, math.nan, 1, 1], g_loss=[1] * 5)
    alarms = find_alarms(table, probabilistic=True)
    assert kinds(alarms) == ["divergence"] and "step 30" in alarms[0]["detail"]


def test_exploding_loss_is_divergence():
    table = metrics(12, d_loss=[1.0] * 11 + [500.0], g_loss=[1.0] * 12)
    assert kinds(find_alarms(table, probabilistic=False)) == ["divergence"]


def test_d_winning_outright():
    rows = 10
    fake = np.array([0.4, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.015, 0.01, 0.01])
    g_loss = -np.log(fake)  # non-saturating G loss climbs as D(G(z)) -> 0
    table = metrics(
        rows, d_loss=np.linspace(1.3, 0.05, rows), g_loss=g_loss, d_real=[0.99] * rows, d_fake=fake
    )
    assert fake[-1] < D_WINS_FAKE
    assert kinds(find_alarms(table, probabilistic=True)) == ["d_wins"]
    # critic scores are not probabilities: no such alarm for WGAN-style losses
    assert find_alarms(table, probabilistic=False) == []
    # G's loss falling again means G is fighting back
    recovering = dict(table, g_loss=list(g_loss[:5]) + list(np.linspace(3, 1, 5)))
    assert find_alarms(recovering, probabilistic=True) == []


def test_falling_coverage_is_mode_collapse():
    table = metrics(6, d_loss=[1] * 6, g_loss=[1] * 6, modes_covered=[2, 6, 8, 8, 5, 3])
    alarms = find_alarms(table, probabilistic=True)
    assert kinds(alarms) == ["mode_collapse"] and alarms[0]["level"] == "warning"


def test_a_row_being_written_keeps_the_last_complete_reading(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,d_loss,g_loss\n10,1.0,0.5\n20,0.9,\n")
    view = RunView(tmp_path)
    first = view.metrics()
    assert first["step"] == [10.0, 20.0] and math.isnan(first["g_loss"][1])
    path.write_text(path.read_text() + "30,1.5e")  # the loop is halfway through a row
    assert read_metrics_tolerant(path, tries=1) is None
    assert view.metrics() is first and view.summary()["step"] == 20
    path.write_text(path.read_text() + "-05,0.7\n")
    assert view.metrics()["step"] == [10.0, 20.0, 30.0]


def test_run_view_refuses_non_runs(tmp_path):
    with pytest.raises(RunViewError, match="no such folder"):
        RunView(tmp_path / "missing")
    with pytest.raises(RunViewError, match="not a ganforge run folder"):
        RunView(tmp_path)


def test_summary_diagnostics_and_walk_of_a_real_run(digits_run):
    before = snapshot(digits_run)
    view = RunView(digits_run)
    summary = view.summary()
    assert summary["step"] == 40 and summary["finished"] is True
    assert summary["samples"] == ["step_0000020.png", "step_0000040.png"]
    assert len(summary["metrics"]["d_loss"]) == 4

    result = view.diagnostics()
    assert result["step"] == 40 and result["real_available"] is True
    logits = result["logits"]
    assert sum(logits["real"]) == sum(logits["fake"]) == DIAGNOSTIC_BATCH
    assert len(logits["edges"]) == len(logits["real"]) + 1
    d_names = [n["name"] for n in result["d_norms"]]
    assert d_names == [name for name, _ in view_models_d_names()]
    assert all(n["norm"] > 0 and math.isfinite(n["norm"]) for n in result["g_norms"])
    assert result["g_total"] == pytest.approx(math.sqrt(sum(n["norm"] ** 2 for n in result["g_norms"])))
    assert view.diagnostics() is result  # cached until a new checkpoint appears

    start, end = view.walk_png(0.0), view.walk_png(1.0)
    assert start[:8] == b"\x89PNG\r\n\x1a\n" and start != end
    assert snapshot(digits_run) == before  # read-only


def view_models_d_names():
    _, D = build_models(ModelConfig(name="mlp", z_dim=8, g_width=32, d_width=32), (1, 8, 8))
    return list(D.named_parameters())


def test_run_routes(digits_run):
    with TestClient(create_app(run_dir=digits_run)) as client:
        assert "run" in client.get("/run").text
        summary = client.get("/api/run").json()
        assert summary["name"] == "digits" and summary["alarms"] is not None
        sample = client.get("/api/run/samples/step_0000040.png")
        assert sample.status_code == 200 and sample.content[:4] == b"\x89PNG"
        for name in ("..%2Fconfig.yaml", "config.yaml", "step_9999999.png"):
            assert client.get(f"/api/run/samples/{name}").status_code == 404
        assert client.get("/api/run/diagnostics").json()["checkpoint"] == "step_0000040.pt"
        assert client.get("/api/run/walk?t=0.5").headers["content-type"] == "image/png"
        for bad in ("2", "-1", "nan", "x"):
            assert client.get(f"/api/run/walk?t={bad}").status_code == 400


def test_a_run_without_checkpoints_says_so(tmp_path):
    (tmp_path / "metrics.csv").write_text("step,d_loss,g_loss\n10,1,1\n")
    view = RunView(tmp_path)
    assert view.summary()["step"] == 10
    with pytest.raises(RunViewError, match="no checkpoint yet"):
        view.diagnostics()
    with pytest.raises(RunViewError, match="neither a checkpoint"):
        view.walk_png(0.5)
    assert os.listdir(tmp_path) == ["metrics.csv"]


def test_every_model_family_has_a_run(family_runs):
    families = {dict(o.split("=") for o in overrides)["model.name"] for overrides in family_runs.values()}
    assert families == set(MODELS)


def check_view(view):
    summary = view.summary()
    assert summary["step"] == 4 and summary["alarms"] == []
    result = view.diagnostics()
    assert result["step"] == 4 and result["real_available"] is True
    assert sum(result["logits"]["real"]) == sum(result["logits"]["fake"]) == DIAGNOSTIC_BATCH
    for net in ("d", "g"):
        assert math.isfinite(result[f"{net}_total"]) and result[f"{net}_total"] > 0
    start, end = view.walk_png(0.0), view.walk_png(1.0)
    assert start[:8] == b"\x89PNG\r\n\x1a\n" and start != end


def test_run_view_answers_for_every_model_family(family_run, tmp_path):
    # Conditional runs used to answer 409 (num_classes: null in the saved config) or 500
    # (D(fake) without labels).
    name, run_dir = family_run
    before = snapshot(run_dir)
    check_view(RunView(run_dir))
    with TestClient(create_app(run_dir=run_dir)) as client:
        for route in (
            "/api/run",
            "/api/run/diagnostics",
            "/api/run/walk?t=0.3",
            "/api/run/samples/step_0000004.png",
        ):
            assert client.get(route).status_code == 200, (name, route, client.get(route).text)
    assert snapshot(run_dir) == before
    # Still running (no exported generator yet): G comes from the checkpoint, and a
    # conditional run's class count from its data.
    copy = tmp_path / name
    shutil.copytree(run_dir, copy)
    for path in copy.glob("generator*"):
        path.unlink()
    check_view(RunView(copy))


@pytest.mark.parametrize("method", ["summary", "diagnostics", "walk_png", "sample_path"])
def test_an_unexpected_error_is_logged_and_answered_in_one_line(digits_run, monkeypatch, caplog, method):
    def broken(*args):
        raise RuntimeError("boom\nsecond line of a long story")

    monkeypatch.setattr(RunView, method, broken)
    route = {
        "summary": "/api/run",
        "diagnostics": "/api/run/diagnostics",
        "walk_png": "/api/run/walk?t=0.5",
        "sample_path": "/api/run/samples/step_0000040.png",
    }[method]
    with caplog.at_level(logging.ERROR, logger="ganforge.lab"):
        with TestClient(create_app(run_dir=digits_run), raise_server_exceptions=False) as client:
            response = client.get(route)
    assert response.status_code == 500
    assert response.json() == {"error": "internal error: RuntimeError: boom (details in the lab's log)"}
    assert "second line of a long story" in caplog.text and "Traceback" in caplog.text


def test_pages_answer_an_unexpected_error_in_one_line_too(digits_run, monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(lab_server, "STATIC_DIR", tmp_path)  # index.html gone
    with TestClient(create_app(run_dir=digits_run), raise_server_exceptions=False) as client:
        response = client.get("/")
    assert response.status_code == 500 and response.json()["error"].startswith("internal error: RuntimeError")
    assert "Traceback" in caplog.text


def test_a_damaged_checkpoint_is_answered_not_raised(digits_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(digits_run, copy)
    (copy / "checkpoints" / "step_0000040.pt").write_bytes(b"")
    with TestClient(create_app(run_dir=copy), raise_server_exceptions=False) as client:
        response = client.get("/api/run/diagnostics")
    assert response.status_code in (409, 500) and set(response.json()) == {"error"}


def test_summary_says_which_way_each_score_is_better_and_which_chose_generator_best(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "step,d_loss,g_loss,gp,fid_fmnist,kid_fmnist,modes_covered\n"
        "10,1,1,0.1,,,\n20,1,1,0.1,30.5,0.02,3\n30,1,1,0.1,,,\n40,1,1,0.1,18.0,0.01,8\n"
    )
    view = RunView(tmp_path)
    scores = view.summary()["scores"]
    assert scores == {
        "directions": {"fid_fmnist": "lower", "kid_fmnist": "lower", "modes_covered": "higher"},
        "best": None,
    }
    best = {"metric": "fid_fmnist", "value": 18.0, "step": 40, "protocol": {}}
    (tmp_path / "generator-best.json").write_text(json.dumps({"eval": best}))
    assert view.summary()["scores"]["best"] == {"metric": "fid_fmnist", "step": 40, "value": 18.0}
    (tmp_path / "generator-best.json").write_text("{not json")  # being replaced: no best, no error
    assert view.summary()["scores"]["best"] is None


@pytest.mark.parametrize("game", ["cyclegan", "pix2pix", "stargan"])
def test_run_view_of_a_translation_run(translation_run, game):
    """Summary, curves and samples work; GAN-only diagnostics answer 409 naming the game."""
    run_dir = translation_run(game)
    before = snapshot(run_dir)
    summary = RunView(run_dir).summary()
    assert summary["game"] == game and summary["finished"] is True and summary["step"] == 3
    assert summary["samples"] and len(summary["metrics"]["step"]) == 3
    with TestClient(create_app(run_dir=run_dir)) as client:
        assert client.get("/api/run").json()["game"] == game
        sample = client.get(f"/api/run/samples/{summary['samples'][-1]}")
        assert sample.status_code == 200 and sample.content[:4] == b"\x89PNG"
        for route in ("/api/run/diagnostics", "/api/run/walk?t=0.3"):
            response = client.get(route)
            assert response.status_code == 409, (route, response.text)
            assert f"not available for the {game} game" in response.json()["error"]
        assert "run" in client.get("/run").text
    assert snapshot(run_dir) == before
