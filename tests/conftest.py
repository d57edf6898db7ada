import pytest
import torch


@pytest.fixture(autouse=True)
def _quiet_and_small(monkeypatch, tmp_path_factory):
    """Tests never touch the user's cache and run single-threaded for stable timings."""
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.mktemp("cache")))
    torch.set_num_threads(1)
