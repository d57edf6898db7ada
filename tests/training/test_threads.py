"""run.threads: the auto tuner on a fake clock, pinned counts, and the determinism rule."""

import pytest
import torch

from ganforge.config import ConfigError, load_config
from ganforge.training import threads
from ganforge.training.loop import train
from ganforge.training.threads import ThreadTuner


class FakeMachine:
    """A clock whose steps take ``cost(threads, step)`` seconds, and torch's thread setting."""

    def __init__(self, cost, threads=2):
        self.now, self.threads, self.cost, self.index = 0.0, threads, cost, 0
        self.used: list[int] = []  # the count each step ran with

    def tuner(self, fixed=None, **kwargs):
        kwargs.setdefault("candidates", [1, 2])
        return ThreadTuner(
            fixed, clock=lambda: self.now, set_threads=self._set, get_threads=lambda: self.threads, **kwargs
        )

    def _set(self, n):
        self.threads = n

    def run(self, tuner, steps):
        for _ in range(steps):
            self.used.append(self.threads)
            self.now += self.cost(self.threads, self.index)
            self.index += 1
            tuner.step()


@pytest.mark.parametrize("fast", [1, 2])
def test_auto_keeps_the_faster_count(fast):
    machine = FakeMachine(lambda n, i: 0.01 if n == fast else 0.03)
    tuner = machine.tuner()
    machine.run(tuner, 40)
    assert not tuner.probing and tuner.current == fast == machine.threads
    assert tuner.scores == {fast: pytest.approx(0.01), 3 - fast: pytest.approx(0.03)}
    # after the probe (well under 20 steps) every step ran at the faster count
    assert set(machine.used[20:]) == {fast}


def test_a_slow_checkpoint_step_does_not_move_the_choice():
    # every 7th step also writes a checkpoint (1 s): medians ignore it
    machine = FakeMachine(lambda n, i: (0.01 if n == 1 else 0.02) + (1.0 if i % 7 == 0 else 0))
    tuner = machine.tuner(reprobe_every=10_000)
    machine.run(tuner, 200)
    assert tuner.current == 1 and [count for _, count in tuner.history] == [1]  # one switch, kept


def test_load_change_triggers_a_new_probe():
    # idle until step 300: 2 threads win; then a neighbour takes a core and 2 threads crawl
    machine = FakeMachine(lambda n, i: {1: 0.02, 2: 0.012 if i < 300 else 0.05}[n])
    tuner = machine.tuner(reprobe_every=10_000)
    machine.run(tuner, 300)
    assert tuner.current == 2
    machine.run(tuner, 60)  # one window (25 steps) to notice, one probe (~12 steps) to switch
    assert tuner.current == 1 and machine.used[-10:] == [1] * 10


def test_load_leaving_is_noticed_too():
    # busy until step 200 (1 thread wins); then the neighbour leaves and both counts speed up
    machine = FakeMachine(lambda n, i: {1: 0.02, 2: 0.05}[n] if i < 200 else {1: 0.01, 2: 0.006}[n])
    tuner = machine.tuner(reprobe_every=10_000)
    machine.run(tuner, 200)
    assert tuner.current == 1
    machine.run(tuner, 60)
    assert tuner.current == 2


@pytest.mark.parametrize("slower", [1.6, 10])  # 1.6: one thread on an idle 2-core machine
def test_a_clearly_slower_candidate_costs_two_timed_steps(slower):
    machine = FakeMachine(lambda n, i: 0.01 if n == 2 else 0.01 * slower)
    tuner = machine.tuner()
    machine.run(tuner, 30)
    assert tuner.current == 2 and machine.used.count(1) == 3  # warm-up + two timed steps


def test_a_candidate_within_the_margin_is_timed_in_full():
    machine = FakeMachine(lambda n, i: 0.01 if n == 2 else 0.012)
    tuner = machine.tuner()
    machine.run(tuner, 30)
    assert tuner.current == 2 and machine.used.count(1) == 6  # warm-up + probe_steps


def test_one_slow_step_does_not_drop_a_faster_candidate():
    # the candidate's first timed step also wrote a checkpoint; its second is fast: it is kept
    # probing, scores by its median and wins
    machine = FakeMachine(lambda n, i: 0.02 if n == 2 else (0.5 if i == 8 else 0.01))
    tuner = machine.tuner()
    machine.run(tuner, 7)  # step 0 starts the clock, 1 warm-up, 5 timed at 2 threads
    assert tuner.probing and machine.threads == 1
    machine.run(tuner, 30)
    assert tuner.current == 1 and tuner.scores[1] == pytest.approx(0.01)


def test_noisy_drift_does_not_probe_more_than_every_min_gap_steps():
    # the load flips every 30 steps: every window drifts, but probes stay min_gap apart
    machine = FakeMachine(lambda n, i: {1: 0.02, 2: 0.01 if (i // 30) % 2 else 0.03}[n])
    tuner = machine.tuner(min_gap=100, reprobe_every=10_000)
    machine.run(tuner, 1000)
    switches_to_one = sum(1 for _, count in tuner.history if count == 1)
    assert switches_to_one <= 1000 // 100 + 1


def test_steady_machine_probes_less_and_less():
    machine = FakeMachine(lambda n, i: 0.01 if n == 2 else 0.02)
    tuner = machine.tuner(reprobe_every=50, max_reprobe_every=400)
    machine.run(tuner, 2000)
    assert tuner.reprobe_every == 400
    # each probe costs ~6 steps at 1 thread: far fewer than one per 50 steps
    assert machine.used[20:].count(1) < 60


def test_fixed_count_is_set_once_and_never_probed():
    machine = FakeMachine(lambda n, i: 0.01 if n == 1 else 0.5)
    tuner = machine.tuner(fixed=2)
    machine.run(tuner, 100)
    assert set(machine.used) == {2} and not tuner.active


def test_auto_does_nothing_on_cuda_under_ddp_and_when_omp_num_threads_is_set(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.for_run("auto", "cpu").active
    assert not threads.for_run("auto", "cuda").active
    assert not threads.for_run("auto", torch.device("cuda", 0)).enabled
    assert not threads.for_run("auto", "cpu", distributed=True).active
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert not threads.for_run("auto", "cpu").active


def test_disabled_tuner_leaves_torch_alone():
    calls = []
    tuner = ThreadTuner(enabled=False, set_threads=calls.append, get_threads=lambda: 7)
    for _ in range(50):
        tuner.step()
    tuner.restore()
    assert calls == []


def test_candidates_and_one_shot_rule(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.candidate_counts(1) == [1]
    assert threads.candidate_counts(2) == [1, 2]
    assert threads.candidate_counts(6) == [1, 2, 4, 6]
    assert threads.candidate_counts(8) == [1, 2, 4, 8]
    assert threads.one_shot_threads("cpu", cores=2, busy=0.1) == 2
    assert threads.one_shot_threads("cpu", cores=2, busy=1.0) == 1  # one neighbour: one free core
    assert threads.one_shot_threads("cpu", cores=8, busy=3.2) == 5
    assert threads.one_shot_threads("cpu", cores=2, busy=6.0) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's pin wins
    assert threads.one_shot_threads("cpu", cores=2, busy=0.0) == torch.get_num_threads()


@pytest.mark.parametrize("value", ["0", "-1", "many", "1.5"])
def test_config_rejects_bad_thread_counts(value):
    with pytest.raises(ConfigError, match="run.threads"):
        load_config(None, [f"run.threads={value}"])


def test_config_accepts_auto_and_counts(tmp_path):
    assert load_config(None).run.threads == "auto"
    assert load_config(None, ["run.threads=2"]).run.threads == "2"
    preset = tmp_path / "p.yaml"
    preset.write_text("run:\n  threads: 3\n")
    assert load_config(preset).run.threads == "3"
    with pytest.raises(ConfigError, match="run.threads"):
        threads.parse_threads("0")


# --- the determinism rule (docs/threads.md) ----------------------------------------------------


# The tiny DCGAN (conftest.py), fp32 and checkpointing every 3 steps: its convolutions split work
# across threads (unlike the tiny MLP), so a thread count can show in the last bits.
THREADS_DCGAN = (
    "train.batch_size=32",
    "train.log_every=3",
    "train.checkpoint_every=3",
    "train.precision=fp32",
    "train.grid_size=16",
    "data.limit=256",
)


def _weights(state):
    return torch.cat([p.detach().flatten() for p in (*state.G.parameters(), *state.D.parameters())])


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("count", ["1", "2"])
def test_fixed_threads_make_runs_and_resumes_bit_exact(tmp_path, count, restore_threads, tiny_dcgan):
    seen = []
    straight = train(
        tiny_dcgan(tmp_path / "a", *THREADS_DCGAN, "train.steps=6", f"run.threads={count}"),
        on_log=lambda state, row: seen.append(torch.get_num_threads()),
    )
    assert seen == [int(count)] * 2  # the count is in force while training
    # a second run of the same seed, stopped at step 3 and resumed: the same bits as the first
    train(tiny_dcgan(tmp_path / "b", *THREADS_DCGAN, "train.steps=3", f"run.threads={count}"))
    resumed = train(
        tiny_dcgan(tmp_path / "b", *THREADS_DCGAN, "train.steps=6", f"run.threads={count}"), resume=True
    )
    assert torch.equal(_weights(straight), _weights(resumed))


def test_a_run_may_resume_with_another_thread_count(tmp_path, restore_threads, tiny_dcgan):
    train(tiny_dcgan(tmp_path / "r", *THREADS_DCGAN, "train.steps=3", "run.threads=1"))
    resumed = train(tiny_dcgan(tmp_path / "r", *THREADS_DCGAN, "train.steps=6", "run.threads=2"), resume=True)
    assert resumed.step == 6 and torch.isfinite(_weights(resumed)).all()
