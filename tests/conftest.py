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


# --- tiny translation runs (translate, export, the lab's run view) -------------------------
# One run per translation game, trained for 3 steps through the real loop on folders of
# coloured squares written here, built once per session and only by the tests that ask.

TRANSLATION_GAMES = ("cyclegan", "pix2pix", "stargan")


def _write_translation_folders(root):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", 8), ("test", 3)):
        for i in range(count):
            gray = np.zeros((16, 16), np.uint8)
            top, left = rng.integers(1, 6, 2)
            gray[top : top + 8, left : left + 8] = rng.integers(120, 255)
            a, b = np.stack([gray] * 3, -1), np.stack([gray, gray // 3, gray // 3], -1)
            for folder, image in (
                (f"unpaired/{split}A", a),
                (f"unpaired/{split}B", b),
                (f"paired/{split}/A", a),
                (f"paired/{split}/B", b),
                (f"domains/{split}/gray", a),
                (f"domains/{split}/red", b),
                (f"domains/{split}/blue", b[..., ::-1]),
            ):
                (root / folder).mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.ascontiguousarray(image)).save(root / folder / f"{i:03d}.png")


@pytest.fixture(scope="session")
def translation_run(tmp_path_factory):
    """``translation_run(game, generator="auto")`` -> the folder of a 3-step run of that game
    (16 px, RGB) with that ``model.generator``."""
    from ganforge.config import load_config
    from ganforge.training.loop import train

    root = tmp_path_factory.mktemp("translation")
    _write_translation_folders(root / "data")
    made = {}
    data = {"cyclegan": "unpaired", "pix2pix": "paired", "stargan": "folder"}
    folder = {"cyclegan": "unpaired", "pix2pix": "paired", "stargan": "domains"}

    def build(game, generator="auto"):
        name = game if generator == "auto" else f"{game}-{generator}"
        if name not in made:
            cfg = load_config(
                overrides=[
                    f"run.dir={root / name}",
                    f"model.generator={generator}",
                    "run.progress=false",
                    f"data.name={data[game]}",
                    f"data.root={root / 'data' / folder[game]}",
                    "data.image_size=16",
                    "data.channels=3",
                    f"model.name={game}",
                    "model.g_width=4",
                    "model.d_width=4",
                    "model.res_blocks=1",
                    "train.steps=3",
                    "train.batch_size=4",
                    "train.log_every=1",
                    "train.sample_every=3",
                    "train.checkpoint_every=3",
                    "train.loss=" + ("wgan-gp" if game == "stargan" else "lsgan"),
                ]
                + (["train.d_steps=1"] if game == "stargan" else [])
            )
            torch.manual_seed(0)
            train(cfg)
            made[name] = root / name
        return made[name]

    return build


# --- offline Inception (evaluation and metrics tests) --------------------------------------


@pytest.fixture
def offline_inception(tmp_path, monkeypatch):
    """A private cache (returned), no $GANFORGE_INCEPTION_WEIGHTS, and any download fails."""
    import urllib.error

    from ganforge.metrics import inception

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)

    def no_network(url, timeout=None):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(inception, "urlopen", no_network)
    return tmp_path / "cache"
