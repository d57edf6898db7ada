"""LabSession: the updates it claims to do, live vs restarting settings, and its frames."""

import json

import numpy as np
import pytest
import torch

from ganforge.lab import frames
from ganforge.lab.protocol import DRAW_BOUNDS, decode_frame
from ganforge.lab.session import DISPLAY_FAKES, DISPLAY_REALS, HEAT_RESOLUTION, LabError, LabSession
from ganforge.losses import LOSSES

SMALL = {"width": 16, "batch_size": 32}


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


def strict_json(header_bytes):
    def refuse(name):
        raise ValueError(f"non-JSON constant {name}")

    return json.loads(header_bytes, parse_constant=refuse)


def test_one_d_update_changes_only_d():
    session = LabSession(SMALL)
    g_before, d_before = params(session.G), params(session.D)
    session.step("d")
    assert (session.iteration, session.d_updates, session.phase) == (0, 1, "d")
    assert changed(d_before, session.D) and not changed(g_before, session.G)


def test_one_g_update_changes_only_g_and_counts_an_iteration():
    session = LabSession(SMALL)
    g_before, d_before = params(session.G), params(session.D)
    session.step("g")
    assert (session.iteration, session.d_updates, session.phase) == (1, 0, "g")
    assert changed(g_before, session.G) and not changed(d_before, session.D)


def test_a_whole_iteration_is_d_steps_d_updates_then_one_g_update():
    session = LabSession({**SMALL, "d_steps": 3})
    session.step("iteration")
    assert (session.iteration, session.d_updates) == (1, 3)
    assert session.train(max_iterations=4, budget_seconds=60) == 4
    assert (session.iteration, session.d_updates) == (5, 15)


def test_same_seed_same_game():
    a, b = LabSession(SMALL), LabSession(SMALL)
    for session in (a, b):
        session.train(5, 60)
    fa, fb = decode_frame(a.frame(0, False, None)), decode_frame(b.frame(0, False, None))
    for name in fa[1]:
        np.testing.assert_array_equal(fa[1][name], fb[1][name])


def test_learning_rates_and_loss_apply_live():
    session = LabSession(SMALL)
    session.train(3, 60)
    run = session.run_id
    assert session.apply({"lr_d": 0.02, "lr_g": 0.003, "loss": "hinge"}) is False
    assert session.run_id == run and session.iteration == 3  # no restart
    assert session.opt_d.param_groups[0]["lr"] == 0.02
    assert session.opt_g.param_groups[0]["lr"] == 0.003
    assert session.loss is LOSSES["hinge"]


def test_model_settings_restart_cleanly():
    session = LabSession(SMALL)
    session.train(3, 60)
    run = session.run_id
    assert session.apply({"width": 8, "z_dim": 3}) is True
    assert session.run_id == run + 1 and (session.iteration, session.d_updates) == (0, 0)
    assert session.G.net[0].in_features == 3 and session.G.net[0].out_features == 8


def test_a_failed_restart_keeps_the_old_game():
    session = LabSession(SMALL)
    session.train(2, 60)
    with pytest.raises(LabError, match="draw at least 2 points"):
        session.apply({"data": "drawn"})
    assert session.settings["data"] == "ring8" and session.iteration == 2


def test_frame_holds_what_the_page_draws():
    session = LabSession(SMALL)
    session.train(2, 60)
    header, arrays = decode_frame(session.frame(7, True, 123.4))
    assert header["seq"] == 7 and header["iteration"] == 2 and header["rate"] == 123.4
    assert arrays["heat"].shape == (HEAT_RESOLUTION**2,)
    assert arrays["fake"].shape == arrays["arrows"].shape == (2 * DISPLAY_FAKES,)
    assert arrays["real"].shape == (2 * DISPLAY_REALS,)
    rows, cols = header["manifold"]["rows"], header["manifold"]["cols"]
    assert arrays["manifold"].shape == (2 * rows * cols,)
    assert set(header["stats"]) >= {"d_loss", "g_loss", "d_real", "d_fake"}
    assert header["quality"]["modes_total"] == 8
    mean_arrow = np.linalg.norm(arrays["arrows"].reshape(-1, 2), axis=1).mean()
    assert header["arrows_mean"] == pytest.approx(float(mean_arrow))
    # the frame's heat map is the session's D over the view
    heat, _, _ = frames.heat_map(session.D, session.loss, session.bounds, HEAT_RESOLUTION)
    np.testing.assert_allclose(arrays["heat"], heat.ravel())
    # real points go out once per game; stats are per frame
    header2, arrays2 = decode_frame(session.frame(8, True, None))
    assert "real" not in arrays2 and header2["stats"] is None


def test_drawn_points_become_the_data():
    session = LabSession(SMALL)
    points = [(-1.0, -1.0), (1.0, 1.0), (0.5, -0.5)]
    session.set_drawn(points)
    assert session.settings["data"] == "drawn" and session.bounds == DRAW_BOUNDS
    real = session.display_real
    nearest = torch.cdist(real, torch.tensor(points)).min(dim=1).values
    assert float(nearest.max()) < 0.2  # jittered copies of the drawn points
    header, _ = decode_frame(session.frame(0, False, None))
    assert header["data"] == "drawn" and "js" in header["quality"]


def test_divergence_is_caught_and_frames_stay_valid_json():
    session = LabSession(SMALL)
    with torch.no_grad():
        next(session.D.parameters()).fill_(float("nan"))
    session.train(10, 60)
    assert session.diverged and session.iteration == 1  # stopped at the first bad iteration
    data = session.frame(0, False, None)
    length = int.from_bytes(data[:4], "little")
    header = strict_json(data[4 : 4 + length])
    assert header["diverged"] is True


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_trains(loss):
    session = LabSession({**SMALL, "loss": loss})
    session.train(3, 60)
    header, _ = decode_frame(session.frame(0, True, None))
    assert all(np.isfinite(v) for v in header["stats"].values())


@pytest.mark.parametrize("z_dim, rows", [(1, 1), (5, 16)])
def test_other_noise_dimensions(z_dim, rows):
    session = LabSession({**SMALL, "z_dim": z_dim, "noise": "normal", "optimizer": "sgd"})
    session.train(2, 60)
    header, arrays = decode_frame(session.frame(0, False, None))
    assert header["manifold"]["rows"] == rows
    assert np.isfinite(arrays["manifold"]).all()
