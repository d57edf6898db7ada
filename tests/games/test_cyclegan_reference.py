"""The reference-step baseline (benchmarks/cyclegan_reference.py) and ganforge's CycleGAN
networks are the same networks: equal parameter shapes, equal outputs from equal weights."""

import importlib.util
from pathlib import Path

import torch

from ganforge.models.patchgan import PatchDiscriminator
from ganforge.models.resnet_generator import ResnetGenerator

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "cyclegan_reference.py"


def _reference():
    spec = importlib.util.spec_from_file_location("cyclegan_reference", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_networks_match_the_reference_layer_for_layer():
    ref = _reference()
    pairs = [
        (ref.resnet_generator(3, 3, ngf=8, n_blocks=2), ResnetGenerator(3, 3, width=8, res_blocks=2)),
        (ref.n_layer_discriminator(3, ndf=8, n_layers=3), PatchDiscriminator(3, width=8, d_layers=3)),
    ]
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for theirs, ours in pairs:
        their_shapes = [tuple(p.shape) for p in theirs.state_dict().values()]
        assert their_shapes == [tuple(p.shape) for p in ours.state_dict().values()]
        ours.load_state_dict(dict(zip(ours.state_dict(), theirs.state_dict().values())))
        assert torch.allclose(theirs(x), ours(x), atol=1e-6)


def test_reference_step_runs_and_updates_every_net():
    ref = _reference()
    torch.manual_seed(0)
    model = ref.ReferenceCycleGAN(torch.device("cpu"), n_blocks=1, width=4)
    before = {
        name: next(getattr(model, name).parameters()).clone()
        for name in ("netG_A", "netG_B", "netD_A", "netD_B")
    }
    model.set_input(torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1)
    model.optimize_parameters()
    assert torch.isfinite(model.loss_G) and torch.isfinite(model.loss_D_A)
    for name, weight in before.items():
        assert not torch.equal(weight, next(getattr(model, name).parameters())), name
