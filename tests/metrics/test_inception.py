"""The FID Inception network: same parameter names and shapes as pytorch-fid's weights file,
loading from a local file (never unpickling objects), the offline error, and the forward shape.

The real pt_inception-2015-12-05 file cannot be downloaded here; each test writes a file of the
same format (a torch.save'd state dict with the same keys and shapes, random values).
"""

import argparse

import pytest
import torch

from ganforge.files import file_sha256
from ganforge.metrics import inception
from ganforge.metrics.errors import MetricError
from ganforge.metrics.features import get_feature_network

# A few names and shapes of pytorch-fid's file (torchvision's Inception3 with 1008 classes,
# no aux head, patched blocks): the stem, a patched block of each kind, the classifier.
EXPECTED_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_4a_3x3.bn.running_var": (192,),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}


pytestmark = pytest.mark.usefixtures("offline_inception")  # tests/conftest.py


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """A same-format weights file: random values under pytorch-fid's keys (no counters,
    like an old state dict), batch-norm statistics kept sane so activations stay finite."""
    torch.manual_seed(0)
    state = inception.FIDInceptionV3().state_dict()
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    for key, value in state.items():
        if key.endswith("running_var"):
            value.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("weights") / inception.WEIGHTS_NAME
    torch.save(state, path)
    return path


def test_parameter_names_and_shapes_match_pytorch_fid():
    state = inception.FIDInceptionV3().state_dict()
    for key, shape in EXPECTED_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert not any("AuxLogits" in key for key in state)
    # 94 BasicConv2d units (conv weight + 4 batch-norm tensors + counter) and the classifier
    assert sum(key.endswith(".conv.weight") for key in state) == 94
    assert len(state) == 94 * 6 + 2


def test_loads_a_same_format_file_and_gives_2048_features(weights_file):
    model = inception.load_fid_inception(weights_file)
    images = torch.rand(2, 3, 32, 40)  # any size: the network resizes to 299 itself
    with torch.no_grad():
        features = model(images)
    assert features.shape == (2, inception.FEATURE_DIM)
    assert torch.isfinite(features).all()
    assert (features >= 0).all()  # an average of ReLU outputs


def test_feature_network_from_env_variable(weights_file, monkeypatch):
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(weights_file))
    network = get_feature_network("inception")
    assert network.sha256 == file_sha256(weights_file)
    assert network.card()["resize"].startswith("bilinear to 299x299")
    gray = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8).numpy()
    feats, notes = network.extract(gray, label="gray")
    assert feats.features.shape == (2, 2048) and feats.probs is None
    assert any("repeated to RGB" in note for note in notes)


def test_missing_weights_offline_say_where_to_put_them():
    with pytest.raises(MetricError) as error:
        get_feature_network("inception")
    message = str(error.value)
    assert inception.WEIGHTS_URL in message and inception.WEIGHTS_NAME in message
    assert "download failed" in message


def test_wrong_file_is_a_clear_error(tmp_path):
    state = inception.FIDInceptionV3().state_dict()
    state["fc.weight"] = torch.zeros(1000, 2048)  # torchvision's ImageNet head, not FID's
    del state["Mixed_5b.branch1x1.conv.weight"]
    path = tmp_path / "other.pth"
    torch.save(state, path)
    with pytest.raises(MetricError, match="missing 1 .*wrong shape 1"):
        inception.load_fid_inception(path)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(MetricError, match="cannot read"):
        inception.load_fid_inception(garbage)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"x": argparse.Namespace(a=1)}, path)  # an object, not tensors
    with pytest.raises(MetricError, match="cannot read"):
        inception.load_fid_inception(path)
