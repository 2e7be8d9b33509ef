"""benchmarks/gpu_check.sh and gpu_check.py without a GPU: the one-line answer,
the paper's estimated time computed by hand, the report and its exit status,
and (slow) every step with the CPU as both devices."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import script_module

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"

#: Samples per epoch of each run, by hand from the paper's rounds (paper
#: section 6): 293 specimens in 8 test blocks of 33 and one of 29 (train 260,
#: ..., 264); the left mandible's 286 in 11 of 26 (train 260); the right
#: mandible's 290 in 9 of 30 and one of 20 (train 260, ..., 270); 7 versions each.
SCRATCH_SAMPLES = 3 * (8 * 260 + 264) * 7 + 11 * 260 * 7 + (9 * 260 + 270) * 7
POOLED_SAMPLES = 3 * 260 * 7  # the first round's training specimens of pronotum, elytra, head
PAPER_SAMPLES = SCRATCH_SAMPLES * 5000 + POOLED_SAMPLES * 10000 + SCRATCH_SAMPLES * 10000


@pytest.fixture(scope="module")
def gpu_check():
    with script_module(SCRIPT, "gpu_check_under_test") as module:
        yield module


def key_values(line: str) -> dict:
    assert line.startswith("gpu_check: ")
    return dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device: the check would measure it")
def test_without_a_gpu_the_script_says_so_in_one_line_and_succeeds():
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], capture_output=True, text=True,
                          timeout=120, cwd=ROOT / "tests")  # from anywhere
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert len(lines) == 1 and "no CUDA device" in lines[0], lines
    assert lines[0] == (f"gpu_check: no CUDA device (torch {torch.__version__}, "
                        f"cuda {torch.version.cuda or 'none'}): nothing to measure")


def test_the_papers_runs_come_from_the_projects_rounds(gpu_check):
    jobs = gpu_check.paper_jobs()
    scratch = [j for j in jobs if "_scratch " in j.name]
    finetune = [j for j in jobs if "_finetune " in j.name]
    (pretrain,) = [j for j in jobs if j.name == "pretrain_pooled"]
    assert len(scratch) == len(finetune) == 9 + 9 + 9 + 11 + 10
    assert sum(j.samples for j in scratch) == sum(j.samples for j in finetune) == SCRATCH_SAMPLES == 87514
    assert {j.epochs for j in scratch} == {5000} and {j.epochs for j in finetune} == {10000}
    assert (pretrain.samples, pretrain.epochs) == (POOLED_SAMPLES, 10000)
    assert all(j.after == "pretrain_pooled" for j in finetune) and not any(j.after for j in scratch)
    assert jobs[0].samples == 1820  # a round's 260 specimens × 7: the timed epoch's size


def test_one_ms_per_sample_gives_the_hours_computed_by_hand(gpu_check):
    estimate = gpu_check.paper_estimate(1.0)
    assert estimate.work == PAPER_SAMPLES == 1_367_310_000
    assert estimate.hours[(1, 0)] == pytest.approx(PAPER_SAMPLES / 1000 / 3600)  # 379.8 h
    assert estimate.hours[(1, 0)] == pytest.approx(379.808, abs=1e-3)
    # twice as fast, half the time
    assert gpu_check.paper_estimate(0.5).hours[(1, 0)] == pytest.approx(estimate.hours[(1, 0)] / 2)
    # 8 GPUs: at least an eighth of it, and the pre-training then the longest
    # fine-tuning run one after the other (1890 samples: 270 specimens × 7)
    eight = estimate.hours[(8, 0)]
    assert eight >= estimate.hours[(1, 0)] / 8
    assert eight >= (POOLED_SAMPLES * 10000 + 1890 * 10000) / 1000 / 3600
    assert eight == pytest.approx(estimate.hours[(1, 0)] / 8, rel=0.05)  # the greedy schedule packs well


def test_four_runs_sharing_at_three_times_the_throughput_cut_the_estimate_by_three(gpu_check):
    estimate = gpu_check.paper_estimate(1.0, {1: 1000.0, 4: 3000.0})
    serial = estimate.hours[(1, 0)]
    assert estimate.hours[(1, 1)] == pytest.approx(serial)  # one run at 1000 samples/s: the same as 1 ms/sample
    assert estimate.hours[(1, 4)] >= serial / 3  # never better than the throughput allows
    assert estimate.hours[(1, 4)] == pytest.approx(serial / 3, rel=0.02)
    assert estimate.best(1) == (4, estimate.hours[(1, 4)])
    # a failed measurement is left out
    assert (1, 2) not in gpu_check.paper_estimate(1.0, {2: None, 4: 3000.0}).hours


def test_the_schedule_waits_for_the_pretraining(gpu_check):
    Job = gpu_check.Job
    jobs = [Job("tune", 5, 1, after="pre"), Job("a", 4, 1), Job("pre", 10, 1), Job("b", 3, 1)]
    # pre on one slot [0, 10]; a then b on the other [0, 4], [4, 7]; tune waits for pre: [10, 15]
    assert gpu_check.schedule_seconds(jobs, slots=2, rate=1.0) == 15
    assert gpu_check.schedule_seconds(jobs, slots=1, rate=2.0) == 11  # one slot: the sum
    with pytest.raises(ValueError, match="slot"):
        gpu_check.schedule_seconds(jobs, slots=0, rate=1.0)
    with pytest.raises(ValueError, match="waits for missing"):
        gpu_check.schedule_seconds([Job("tune", 5, 1, after="missing")], slots=1, rate=1.0)


def fake_run(gpu_check, monkeypatch, forward: float):
    """main() with the measurements replaced (no model, no GPU)."""
    monkeypatch.setattr(gpu_check, "device_report", lambda device: {"name": "Fake GPU"})
    monkeypatch.setattr(gpu_check, "probe", lambda: 0)
    monkeypatch.setattr(gpu_check, "tf32_allowed", lambda: False)
    monkeypatch.setattr(gpu_check.train_speed(), "matmul_gflops", lambda **kwargs: 50000.0)
    monkeypatch.setattr(gpu_check, "parity", lambda device, batch: {
        "forward": (forward, forward * 3), "output_scale": 0.3, "weights": (2e-7, 1e-6), "momentum": (1e-8, 2e-6),
        "moves": (1e-8, 1e-5), "loss": (0.3, 0.3), "step": 2e-7})
    monkeypatch.setattr(gpu_check, "time_epochs",
                        lambda device, samples, epochs: {"durations": [1.82] * epochs, "train": 1213, "valid": 607,
                                                         "ms_per_sample": 1.0})
    monkeypatch.setattr(gpu_check, "share_throughput", lambda device, runs, samples, epochs, timeout: (
        (1000.0 * {1: 1, 2: 1.8, 4: 3}[runs], "fake") if runs != 2 else (None, "out of memory")))
    return gpu_check.main(["--device", "cuda"])


def test_the_report_ends_with_key_values_and_fails_on_parity(gpu_check, monkeypatch, capsys):
    assert fake_run(gpu_check, monkeypatch, forward=3e-6) == 0
    lines = capsys.readouterr().out.splitlines()
    values = key_values(lines[-1])
    assert values["device"] == '"Fake GPU"' and values["parity_ok"] == "true"
    assert float(values["parity_forward"]) == 3e-6 and float(values["parity_step"]) == 2e-7
    assert float(values["epoch_ms_per_sample"]) == 1.0
    assert (values["share1"], values["share2"], values["share4"]) == ("1000.0", "failed", "3000.0")
    assert float(values["paper_hours_1gpu"]) == pytest.approx(379.8)
    assert float(values["paper_hours_1gpu_best"]) == pytest.approx(379.8 / 3, rel=0.02)
    assert values["best_share"] == "4"
    estimate = gpu_check.paper_estimate(1.0, {1: 1000.0, 4: 3000.0})
    assert float(values["paper_hours_8gpu"]) == pytest.approx(estimate.best(8)[1], abs=0.05)
    assert "parity OK" in "\n".join(lines) and "FAILED" not in "\n".join(lines)

    assert fake_run(gpu_check, monkeypatch, forward=3e-4) == 1
    lines = capsys.readouterr().out.splitlines()
    assert key_values(lines[-1])["parity_ok"] == "false"
    assert "gpu_check: FAILED: parity over 0.0001: forward 3.00e-04" in lines


@pytest.mark.slow
def test_every_step_runs_with_the_cpu_as_both_devices():
    """Parity, timing, a sharing measurement (2 processes) and the estimate
    on model 3, tiny sizes, the CPU standing in for the GPU."""
    env = {**os.environ, "BEETLES_TORCH_COMPILE": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("BEETLES_THREADS", None)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--samples", "8", "--epochs", "1", "--shares", "2",
         "--share-seconds", "1", "--parity-batch", "2"],
        capture_output=True, text=True, timeout=240, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert all(line.startswith("gpu_check: ") for line in lines), lines
    assert any("parity OK" in line for line in lines)
    assert any(line.startswith("gpu_check: 2 run(s) sharing the device: ") and "samples/s" in line for line in lines)
    values = key_values(lines[-1])
    assert values["parity_ok"] == "true"
    assert float(values["parity_forward"]) <= 1e-4 and float(values["parity_step"]) <= 1e-4  # the same CPU: 0
    assert float(values["epoch_ms_per_sample"]) > 0 and float(values["share2"]) > 0
    assert float(values["paper_hours_1gpu"]) > float(values["paper_hours_8gpu"]) > 0
