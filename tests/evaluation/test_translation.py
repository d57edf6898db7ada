"""Scoring translation runs: the identity lower bound's known values, and ``ganforge eval
--run`` on a tiny CycleGAN run on the built-in fmnist-edges pair (every column, both ways)."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.translation import TranslationData, edges, load_translation
from ganforge.evaluation.translation import directions_of, score_direction
from ganforge.training import train


class Constant(nn.Module):
    """A 'generator' that outputs one gray level (uint8 ``level``) in ``channels`` channels."""

    def __init__(self, level: int, channels: int):
        super().__init__()
        self.value, self.channels = level / 127.5 - 1, channels

    def forward(self, x):
        return torch.full((x.shape[0], self.channels, *x.shape[2:]), self.value)


def _data():
    """A: 4 black gray images; B (their truth): RGB images at level 51 = 0.2 on [0, 1]."""
    a = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    b = torch.full((4, 3, 8, 8), 51, dtype=torch.uint8)
    return TranslationData("toy", a, b, a, b, paired=True, test_paired=True)


def test_identity_is_scored_in_the_targets_channels_with_known_values():
    direction = directions_of(_data(), ["AtoB"])[0]
    scores, context = score_direction(Constant(0, 3), direction, None, "cpu")
    # Output = input (black, repeated to RGB) against 0.2 everywhere: MAE 0.2, PSNR 10 log10(1 / 0.04).
    assert context["identity"]["mae"] == pytest.approx(0.2)
    assert context["identity"]["psnr"] == pytest.approx(10 * np.log10(25))
    assert scores == pytest.approx(context["identity"])  # this G outputs its (black) input
    perfect, _ = score_direction(Constant(51, 3), direction, None, "cpu")
    assert perfect == {"mae": 0.0, "psnr": 100.0}  # PSNR capped for an exact match
    backwards = directions_of(_data(), ["BtoA"])[0]  # 0.2 gray RGB -> gray (0.2) against black
    _, context = score_direction(Constant(0, 1), backwards, None, "cpu")
    assert context["identity"]["mae"] == pytest.approx(0.2)


@pytest.fixture(scope="module")
def edges_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("edges") / "run"
    cfg = load_config(
        None,
        [
            f"run.dir={run}",
            "run.progress=false",
            "model.name=cyclegan",
            "data.name=fmnist-edges",
            "data.limit=64",
            "model.g_width=4",
            "model.d_width=4",
            "model.res_blocks=1",
            "model.d_layers=1",
            "train.batch_size=4",
            "train.steps=2",
            "train.log_every=1",
            "train.precision=fp32",
        ],
    )
    train(cfg)
    return run, cfg


def test_eval_run_scores_every_column_both_ways_beside_identity(edges_run, capsys):
    run, cfg = edges_run
    with pytest.raises(SystemExit) as stop:
        main(["eval", "--run", str(run), "--n", "200"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "AtoB (200 test images)" in out and "BtoA (200 test images)" in out and "identity" in out
    report = json.loads((run / "metrics.json").read_text())
    a_to_b, b_to_a = report["directions"]["AtoB"], report["directions"]["BtoA"]
    common = {"mae", "psnr", "fid_fmnist", "translated_accuracy"}
    assert set(a_to_b["scores"]) == common | {"edge_iou"} == set(a_to_b["context"]["identity"])
    assert set(b_to_a["scores"]) == common == set(b_to_a["context"]["identity"])
    for part in (a_to_b, b_to_a):
        assert 0 <= part["context"]["real_target"]["translated_accuracy"] <= 1
    # The identity's MAE, computed here independently from the raw test split.
    data = load_translation(cfg.data, paired=False)
    gray = data.test_a[:200].numpy().astype(np.float64)
    truth = edges(data.test_a[:200].numpy()).astype(np.float64)
    assert a_to_b["context"]["identity"]["mae"] == pytest.approx(np.abs(gray - truth).mean() / 255, rel=1e-9)
    # Garments read as garments: the classifier on real garments beats it on edge maps.
    assert b_to_a["context"]["real_target"]["translated_accuracy"] > 0.8
