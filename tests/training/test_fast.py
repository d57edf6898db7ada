"""Speed switches: each fast path trains like the plain path (same losses within bf16 / float
rounding), keeps the checkpoint format, and the CUDA-graph / compile runners fall back to
eager execution cleanly. CUDA itself is not available here: the graph runner is driven by an
emulation with CUDA graphs' semantics (capture records without executing; replay re-runs the
recording against the buffers it was recorded with)."""

import copy
import warnings

import pytest
import torch

from ganforge.config import ConfigError, TrainConfig, load_config
from ganforge.training import build_state, runners, speed, train, train_iteration
from ganforge.training.runners import CompileRunner, GraphRunner
from ganforge.training.speed import SpeedPlan

PLAIN = (
    "train.precision=fp32",
    "train.memory_format=contiguous",
    "train.adam_impl=loop",
    "train.compile=eager",
)


def losses(state, steps=4, run=train_iteration):
    out = []
    for _ in range(steps):
        stats = run(state)
        out.append([float(stats[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake")])
    return torch.tensor(out)


@pytest.fixture
def plain_state(tmp_path, tiny_dcgan):
    """``plain_state(*overrides)``: a fresh tiny-DCGAN state on the plain path (same seed each call)."""
    return lambda *overrides: build_state(tiny_dcgan(tmp_path / "plain", *PLAIN, *overrides))


@pytest.mark.parametrize(
    "switch, tolerance",
    [
        ("train.precision=bf16", 0.05),  # bf16 keeps 8 bits of mantissa: ~0.4 % per op
        ("train.memory_format=channels_last", 1e-4),  # other kernels, other summation order
        ("train.adam_impl=fused", 1e-4),
        ("train.adam_impl=foreach", 1e-4),
    ],
)
def test_fast_path_gives_the_plain_losses(tmp_path, switch, tolerance, tiny_dcgan, plain_state):
    plain = losses(plain_state())
    state = build_state(tiny_dcgan(tmp_path / "fast", *PLAIN, switch))
    key, value = switch.split("=")
    assert getattr(state.speed, key.split(".")[1]) == value
    torch.testing.assert_close(losses(state), plain, rtol=tolerance, atol=tolerance)


def test_bf16_and_channels_last_together_keep_the_losses_and_the_checkpoint(
    tmp_path, tiny_dcgan, plain_state
):
    plain_state_ = plain_state()
    plain = losses(plain_state_)
    state = build_state(
        tiny_dcgan(tmp_path / "fast", "train.precision=bf16", "train.memory_format=channels_last")
    )
    weight = next(p for p in state.G.parameters() if p.dim() == 4)
    assert weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(losses(state), plain, rtol=0.05, atol=0.05)
    # Same keys and shapes; the weights themselves stay float32.
    for name in ("G", "D"):
        a, b = getattr(plain_state_, name).state_dict(), getattr(state, name).state_dict()
        assert list(a) == list(b)
        assert all(a[k].shape == b[k].shape and a[k].dtype == b[k].dtype for k in a)


def test_bf16_logits_reach_the_losses_as_float32(tmp_path, tiny_dcgan):
    state = build_state(tiny_dcgan(tmp_path / "r", "train.precision=bf16"))
    with speed.autocast(state.speed, state.device):
        fake = state.G(state.noise(4))
        logits = state.D(fake)
    assert fake.dtype == torch.bfloat16  # the networks do run in bf16
    assert logits.dtype == torch.float32


def test_a_run_resumes_under_other_speed_settings(tmp_path, tiny_dcgan):
    run = tmp_path / "run"
    train(
        tiny_dcgan(
            run,
            "train.steps=4",
            "train.checkpoint_every=2",
            "train.precision=bf16",
            "train.memory_format=channels_last",
            "train.adam_impl=fused",
        )
    )
    state = train(tiny_dcgan(run, "train.steps=6", *PLAIN), resume=True)
    assert state.step == 6 and state.speed.precision == "fp32"


def test_auto_picks_per_device(monkeypatch):
    cpu, cuda, auto = torch.device("cpu"), torch.device("cuda"), TrainConfig()
    monkeypatch.setattr(speed, "cpu_has_bf16", lambda: True)
    assert speed.resolve(auto, cpu, conv=True) == SpeedPlan("bf16", "channels_last", "loop", "eager")
    assert speed.resolve(auto, cpu, conv=False) == SpeedPlan("fp32", "contiguous", "loop", "eager")
    monkeypatch.setattr(speed, "cpu_has_bf16", lambda: False)
    assert speed.resolve(auto, cpu, conv=True).precision == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert speed.resolve(auto, cuda, conv=True) == SpeedPlan("bf16", "channels_last", "fused", "cuda-graphs")
    assert speed.resolve(auto, cuda, conv=True, world_size=2).compile == "eager"
    assert speed.resolve(auto, cuda, conv=True, gradient_penalty=True).compile == "eager"
    # A CUDA graph would freeze a decaying learning rate.
    assert speed.resolve(TrainConfig(lr_decay_start=0.5), cuda, conv=True).compile == "eager"
    compiled = speed.resolve(TrainConfig(compile="reduce-overhead"), cuda, conv=True)
    assert compiled.memory_format == "contiguous"  # the two do not mix on PyTorch 2.11


@pytest.mark.parametrize(
    "settings, device, message",
    [
        ({"compile": "cuda-graphs"}, "cpu", "needs a CUDA device"),
        ({"compile": "reduce-overhead", "memory_format": "channels_last"}, "cpu", "convolution_backward"),
        ({"compile": "cuda-graphs", "lr_decay_start": 0.5, "precision": "fp32"}, "cuda", "lr_decay_start"),
    ],
)
def test_impossible_combinations_are_clear_errors(settings, device, message):
    with pytest.raises(ConfigError, match=message):
        speed.resolve(TrainConfig(**settings), torch.device(device), conv=True)


def test_unknown_choice_is_rejected_by_the_config():
    with pytest.raises(ConfigError, match="choose one of: auto, fp32, bf16"):
        load_config(None, ["train.precision=fp16"])


class EmulatedGraphs:
    """CUDA graphs' semantics on the CPU. ``capture`` runs the function to learn its outputs,
    then undoes every effect (a real capture executes nothing); ``replay`` runs it again and
    writes the results into the captured output tensors, as a replayed graph does."""

    def __init__(self, state):
        self.state = state
        self.captures = 0
        self.runner = None

    def _valid_index_buffers(self):
        # A real capture never reads the (uninitialised) index buffers; this one executes,
        # so it hands the runner valid ones (all zeros) to record with.
        size = self.state.cfg.train.batch_size
        self.runner.batches.buffers = [
            torch.zeros(size, dtype=torch.long) for _ in range(self.state.cfg.train.d_steps)
        ]

    def warmup(self, fn):
        return fn()

    def capture(self, fn):
        self.captures += 1
        self._valid_index_buffers()
        before = copy.deepcopy(self.state.payload())
        outputs = {k: v.clone() for k, v in fn().items()}
        self.state.restore(before)
        return (fn, outputs), outputs  # (the "graph", its output tensors)

    def replay(self, graph):
        fn, outputs = graph
        for key, value in fn().items():
            outputs[key].copy_(value)


@pytest.mark.parametrize("extra", [[], ["train.d_steps=2", "train.ema_decay=0.9"]])
def test_graph_runner_trains_exactly_like_eager(extra, plain_state):
    eager = plain_state(*extra)
    expected = losses(eager, steps=7)
    state = plain_state(*extra)
    backend = EmulatedGraphs(state)
    runner = backend.runner = GraphRunner(train_iteration, backend=backend, warmup=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to eager
        got = losses(state, steps=7, run=runner)
    assert torch.equal(got, expected)
    assert backend.captures == 1 and not runner.failed and state.step == 7
    assert state.sampler.state_dict()["position"] == eager.sampler.state_dict()["position"]
    for a, b in zip(eager.G.state_dict().values(), state.G.state_dict().values()):
        assert torch.equal(a, b)


def test_failed_graph_capture_falls_back_to_eager(plain_state):
    expected = losses(plain_state(), steps=5)
    state = plain_state()

    class Uncapturable(EmulatedGraphs):
        def capture(self, fn):
            state.D.requires_grad_(False)  # fails halfway through G's step
            raise RuntimeError("operation not permitted when stream is capturing")

    runner = GraphRunner(train_iteration, backend=Uncapturable(state), warmup=2)
    with pytest.warns(UserWarning, match="CUDA graph capture .* failed .* continuing eagerly"):
        got = losses(state, steps=5, run=runner)
    assert torch.equal(got, expected)
    assert runner.failed and all(p.requires_grad for p in state.D.parameters())


def test_failed_compile_undoes_its_iteration_and_falls_back(monkeypatch, plain_state):
    expected = losses(plain_state(), steps=4)
    state = plain_state()

    class BreaksInBackward(torch.nn.Module):
        """Stands in for a compiled module: its first forwards work (and update the batch-norm
        statistics), then it fails like the stride assertion seen on PyTorch 2.11."""

        def __init__(self, module):
            super().__init__()
            self.module, self.calls = module, 0

        def forward(self, *args):
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("stride assertion in convolution_backward")
            return self.module(*args)

    monkeypatch.setattr(torch, "compile", lambda module, mode=None: BreaksInBackward(module))
    runner = CompileRunner(state, train_iteration)
    with pytest.warns(UserWarning, match="torch.compile.* failed"):
        got = losses(state, steps=4, run=runner)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert state.game.train_nets["G"] is state.G and state.game.train_nets["D"] is state.D


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_graph_on_a_gpu_trains_like_eager(tmp_path, precision, tiny_dcgan):
    """The real capture: no fallback, and losses close to eager (cuDNN's algorithm choices
    and the graph's random-number offsets make them not bit-identical)."""
    settings = [
        "run.device=cuda",
        f"train.precision={precision}",
        "train.adam_impl=fused",
        "train.memory_format=channels_last",
    ]
    eager = build_state(tiny_dcgan(tmp_path / "e", *settings, "train.compile=eager"))
    graphed = build_state(tiny_dcgan(tmp_path / "g", *settings, "train.compile=cuda-graphs"))
    runner = runners.make_runner(graphed, train_iteration)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = losses(graphed, steps=8, run=runner)
    assert runner.graph is not None and not runner.failed and graphed.step == 8
    torch.testing.assert_close(got, losses(eager, steps=8), rtol=0.05, atol=0.05)


@needs_cuda
def test_training_on_a_gpu_with_the_defaults_resumes(tmp_path, tiny_dcgan):
    run = tmp_path / "run"
    train(tiny_dcgan(run, "run.device=cuda", "train.steps=8", "train.checkpoint_every=4"))
    state = train(tiny_dcgan(run, "run.device=cuda", "train.steps=12"), resume=True)
    assert state.step == 12 and state.speed.compile == "cuda-graphs"
