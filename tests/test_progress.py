"""Progress bars on long one-shot work: drawn on a terminal, never into a redirected log."""

import io
import sys

import numpy as np
import torch
from torch import nn

from ganforge.metrics.features import FeatureNetwork
from ganforge.progress import bar
from ganforge.sampling import generate


class Terminal(io.StringIO):
    def isatty(self):
        return True


def drawn(monkeypatch, work) -> str:
    """What ``work()`` writes to stderr when stderr is a terminal."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    work()
    return terminal.getvalue()


def test_a_bar_is_drawn_only_on_a_terminal(monkeypatch):
    assert bar(10, "step").disable  # pytest captures stderr: not a terminal
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert not bar(10, "step").disable
    assert bar(10, "step", show=False).disable


def test_sampling_shows_its_progress_when_asked(monkeypatch):
    G = nn.Linear(4, 2)
    z = torch.zeros(30, 4)
    shown = drawn(monkeypatch, lambda: generate(G, z, batch_size=10, progress=True))
    assert "sampling" in shown and "/30 " in shown  # redraws are rate-limited: the total shows
    assert drawn(monkeypatch, lambda: generate(G, z, batch_size=10)) == ""


def test_feature_extraction_names_what_it_reads(monkeypatch):
    network = FeatureNetwork(
        name="mean",
        description="the mean pixel",
        sha256="0",
        image_size=4,
        channels=1,
        resize="none",
        dim=1,
        class_names=None,
        forward=lambda batch: (batch.mean(dim=(1, 2, 3))[:, None], None),
        module=nn.Identity(),
    )
    images = np.zeros((25, 1, 4, 4), np.uint8)
    shown = drawn(monkeypatch, lambda: network.extract(images, batch_size=10, label="generated"))
    assert "mean features of generated" in shown and "/25 " in shown
