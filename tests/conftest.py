import pytest
import torch


@pytest.fixture(autouse=True)
def _quiet_and_small(monkeypatch, tmp_path_factory):
    """Tests never touch the user's cache and run single-threaded for stable timings. The
    pinned OMP_NUM_THREADS also keeps run.threads=auto from re-tuning mid-test (a count picked
    by timing would make bit-exact comparisons depend on the machine's load); the thread
    tuner's own tests unset it."""
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
