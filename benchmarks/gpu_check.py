"""One prepared check of the torch engine on a CUDA GPU: parity, speed, and the paper's time.

    bash benchmarks/gpu_check.sh            # the wrapper: picks the venv, a timeout per step
    python benchmarks/gpu_check.py [--device cuda|cpu] [--samples N] [--epochs E]
                                   [--shares 1,2,4] [--share-seconds S] [--parity-batch B]

Without a CUDA device it prints one line saying so and exits 0.  With one:

1. the device (name, memory, capability), torch, CUDA and cuDNN versions, and
   whether the convolutions and matrix products may use TF32;
2. parity with the CPU: model 3 (the registry's paper model, 8 landmarks) with
   the same weights on both devices, (a) the forward pass, dropout off, on the
   same images, and (b) one Nesterov step of the torch engine
   (``TorchNet.train_step``, dropout off, as ``tests/paper/test_torch_parity.py``
   takes it) from the same weights and momentum buffers on the same batch:
   the largest absolute difference of the outputs, and of the weights and
   momentum buffers after the step, must stay under 1e-4 (the relative ones,
   ``max |a - b| / max |a|``, are printed beside them).  Where parity fails and
   TF32 was allowed, the forward pass is measured again in full float32 to
   tell whether TF32 is the cause;
3. model 3's training epoch at batch 128 (``TorchNet.fit``: the training
   batches with the update, then the validation batches, as a round of the
   paper runs them) on an epoch of the paper's size, ``--samples`` (a round's
   260 specimens seven-fold augmented: 1820, of which 1213 train and 607
   validate), after one warm-up epoch; in milliseconds per sample of the
   epoch; then the total throughput of 1, 2 and 4 such runs sharing the GPU
   (separate processes started together), in samples per second;
4. the estimated time of every table of the paper on this device
   (:func:`paper_estimate`): each part's from-scratch rounds (5000 epochs),
   the pooled pre-training (10000 epochs) and each part's fine-tuning rounds
   (10000 epochs, after the pre-training), with the samples of each round
   from the project's own rounds (:func:`beetles.paper.settings.part_rounds`),
   on 1 GPU one run at a time, on 1 GPU and on 8 GPUs with the best sharing
   (section 5's model selection, models 1, 2 and 3 on the pronotum, is not
   counted: its Figs. 10 and 11 are no table).

The images are those of ``benchmarks/train_speed.py`` (random images of the
network's input size: the time of an epoch does not depend on what the
photos show).  The last line is machine-readable ``key=value`` pairs.
``--device cpu`` runs every step with the CPU as both devices (a check of
this script, not a measurement).  A failed parity check makes the exit
status 1 (after the timings and the estimate are printed).
"""
from __future__ import annotations

import argparse
import contextlib
import heapq
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PREFIX = "gpu_check:"
#: Largest absolute difference allowed between the device and the CPU.
TOLERANCE = 1e-4
#: The paper's model (registry name) and the landmarks it is checked with (the pronotum's).
MODEL = "3"
LANDMARKS = 8
#: Exit status of ``--probe`` when PyTorch sees no CUDA device.
NO_DEVICE = 3
#: GPU counts of the estimate.
GPUS = (1, 8)


def say(text: str) -> None:
    print(f"{PREFIX} {text}", flush=True)


# --- The paper's schedule and its estimated time (no torch, no GPU) ----------

@dataclass(frozen=True)
class Job:
    """One training run of the paper: ``samples`` per epoch (a round's
    training and validation samples, augmented), ``epochs``; ``after``: the
    name of the run it must wait for (fine-tuning waits for the pre-training)."""

    name: str
    samples: int
    epochs: int
    after: str | None = None

    @property
    def work(self) -> int:
        """Samples processed in all: samples per epoch × epochs."""
        return self.samples * self.epochs


def paper_jobs() -> list[Job]:
    """Every run behind the paper's tables (sections 6 and 7), from the
    project's settings: each part's cross-validation rounds from scratch
    (:data:`~beetles.paper.settings.MAX_EPOCHS_SCRATCH`), the pre-training on
    the pooled parts' first-round training specimens
    (:data:`~beetles.paper.settings.MAX_EPOCHS_PRETRAIN`), and each part's
    rounds fine-tuned from it (:data:`~beetles.paper.settings.MAX_EPOCHS_FINETUNE`).
    A round's samples: its training specimens (the rest are its test block)
    times the augmented versions (7)."""
    from beetles.paper import settings
    from beetles.studies.finetune import POOLED_PARTS

    versions = len(settings.AUGMENTED_VERSIONS)
    rounds = {name: settings.part_rounds(name) for name in settings.PART_NAMES}
    scratch = [Job(f"{name}_scratch round {r.number}", len(r.train) * versions, settings.MAX_EPOCHS_SCRATCH)
               for name, part_rounds in rounds.items() for r in part_rounds]
    pooled = sum(len(settings.part_rounds(name)[0].train) for name in POOLED_PARTS) * versions
    pretrain = Job("pretrain_pooled", pooled, settings.MAX_EPOCHS_PRETRAIN)
    finetune = [Job(f"{name}_finetune round {r.number}", len(r.train) * versions, settings.MAX_EPOCHS_FINETUNE,
                    after=pretrain.name)
                for name, part_rounds in rounds.items() for r in part_rounds]
    return [*scratch, pretrain, *finetune]


def schedule_seconds(jobs: list[Job], slots: int, rate: float) -> float:
    """Wall-clock seconds of ``jobs`` on ``slots`` runs at a time, each
    processing ``rate`` samples per second: a greedy schedule (the runs others
    wait for first, then the longest first, each on the slot free earliest,
    never before the run it waits for has finished).  One slot: the sum."""
    if slots < 1 or rate <= 0:
        raise ValueError(f"need at least one slot and a positive rate, not {slots} and {rate}")
    needed = {job.after for job in jobs if job.after}
    order = sorted(jobs, key=lambda job: (job.after is not None, job.name not in needed, -job.work))
    free = [0.0] * slots
    finished: dict[str, float] = {}
    for job in order:
        if job.after is not None and job.after not in finished:
            raise ValueError(f"{job.name} waits for {job.after}, which is not scheduled before it")
        start = max(heapq.heappop(free), finished.get(job.after, 0.0))
        finished[job.name] = start + job.work / rate
        heapq.heappush(free, finished[job.name])
    return max(free)


@dataclass
class Estimate:
    """The paper's time on one device: ``hours[(gpus, share)]`` with ``share``
    runs at a time on each GPU (``share`` 0: one at a time, from the epoch's
    milliseconds per sample), and the best sharing per GPU count."""

    jobs: list[Job]
    hours: dict[tuple[int, int], float]

    @property
    def work(self) -> int:
        return sum(job.work for job in self.jobs)

    def best(self, gpus: int) -> tuple[int, float]:
        """``(share, hours)``: the fastest sharing measured on ``gpus`` GPUs."""
        share, hours = min(((s, h) for (g, s), h in self.hours.items() if g == gpus), key=lambda item: item[1])
        return share, hours


def paper_estimate(ms_per_sample: float, throughputs: dict[int, float] | None = None, gpus=GPUS,
                   jobs: list[Job] | None = None) -> Estimate:
    """Hours of every run of the paper (:func:`paper_jobs`) on ``gpus`` GPUs
    like the measured one: one run at a time per GPU at ``ms_per_sample``
    (share 0), and ``k`` runs at a time per GPU for each measured total
    throughput ``throughputs[k]`` (samples per second on one GPU, so each run
    goes at ``throughputs[k] / k``).  On one GPU, one run at a time, it is the
    samples of every epoch of every run × ``ms_per_sample``; otherwise
    :func:`schedule_seconds`.  Failed measurements (``None``, 0) are left out."""
    jobs = paper_jobs() if jobs is None else jobs
    rates = {0: (1, 1000.0 / ms_per_sample)}
    rates.update({k: (k, t / k) for k, t in (throughputs or {}).items() if t})
    hours = {(g, share): schedule_seconds(jobs, g * runs, rate) / 3600
             for g in gpus for share, (runs, rate) in rates.items()}
    return Estimate(jobs, hours)


def describe_schedule(jobs: list[Job]) -> list[str]:
    """What the estimate counts, in words."""
    lines = []
    kinds = {}
    for job in jobs:
        kind = job.name.split(" round ")[0].rsplit("_", 1)[-1] if " round " in job.name else job.name
        kinds.setdefault(kind, []).append(job)
    for kind, group in kinds.items():
        epochs = sorted({job.epochs for job in group})
        samples = sum(job.samples for job in group)
        lines.append(f"{kind}: {len(group)} run(s) of {'/'.join(map(str, epochs))} epochs, "
                     f"{samples} samples per epoch in all ({min(j.samples for j in group)}-"
                     f"{max(j.samples for j in group)} per run)")
    return lines


# --- The device -----------------------------------------------------------------

def probe() -> int:
    """Print one line and return :data:`NO_DEVICE` when PyTorch sees no CUDA
    device; return 0, silently, when it sees one."""
    import warnings

    import torch

    with warnings.catch_warnings():  # a CUDA build without a driver warns: the one line says it
        warnings.simplefilter("ignore")
        if torch.cuda.is_available():
            return 0
    say(f"no CUDA device (torch {torch.__version__}, cuda {torch.version.cuda or 'none'}): nothing to measure")
    return NO_DEVICE


def fp32_settings() -> str:
    """Whether cuDNN convolutions and CUDA matrix products may use TF32."""
    import torch

    try:
        conv, matmul = torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision
    except AttributeError:  # older PyTorch
        conv = "tf32" if torch.backends.cudnn.allow_tf32 else "ieee"
        matmul = "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee"
    return f"conv={conv} matmul={matmul}"


def tf32_allowed() -> bool:
    return "tf32" in fp32_settings()


@contextlib.contextmanager
def full_fp32():
    """cuDNN convolutions and CUDA matrix products in IEEE float32 (no TF32) inside."""
    import torch

    if hasattr(torch.backends.cudnn, "conv") and hasattr(torch.backends.cudnn.conv, "fp32_precision"):
        saved = (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision)
        torch.backends.cudnn.conv.fp32_precision = "ieee"
        torch.backends.cuda.matmul.fp32_precision = "ieee"
        try:
            yield
        finally:
            torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision = saved
    else:  # older PyTorch
        saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def device_report(device: str) -> dict:
    """Name, memory and versions of ``device``, printed and returned."""
    import torch

    from beetles.core.torchutil import device_description
    from beetles.paper import torch_layers

    versions = f"torch {torch.__version__}, CUDA {torch.version.cuda or 'none'}, cuDNN {torch.backends.cudnn.version()}"
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        name = props.name
        say(f"device {device}: {name}, {props.total_memory / 2**30:.1f} GiB, compute capability "
            f"{props.major}.{props.minor}, {torch.cuda.device_count()} CUDA device(s) visible; {versions}; "
            f"float32 {fp32_settings()}; torch.compile of the pooling kernels: {torch_layers.COMPILE}")
    else:
        name = device_description("cpu")
        say(f"device cpu (--device cpu: the CPU as both devices, a check of this script): {name}; {versions}; "
            f"torch.compile of the pooling kernels: {torch_layers.COMPILE}")
    return {"name": name}


def train_speed():
    """``benchmarks/train_speed.py`` as a module (its inputs and matrix-product rate)."""
    if "train_speed" in sys.modules:
        return sys.modules["train_speed"]
    spec = importlib.util.spec_from_file_location("train_speed", HERE / "train_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["train_speed"] = module
    return module


def epoch_data(samples: int, landmarks: int = LANDMARKS):
    """``samples`` images and targets: :func:`train_speed.data`'s batch of 128, repeated."""
    X, y = train_speed().data(landmarks)
    reps = -(-samples // len(X))
    return np.concatenate([X] * reps)[:samples], np.concatenate([y] * reps)[:samples]


def network():
    from beetles.registry import model_info

    return model_info(MODEL).config["network"]


def build(device: str, epochs: int = 1, **kwargs):
    from beetles.paper.torch_training import build_torch_net

    return build_torch_net(network(), LANDMARKS, max_epochs=epochs, device=device, **kwargs)


def differences(reference: dict, other: dict) -> tuple[float, float]:
    """``(max |a - b|, max |a - b| / max |a|)`` over every array of ``reference``
    (in float32: the difference of two close float32 values is exact)."""
    absolute = relative = 0.0
    for key, a in reference.items():
        a, b = np.asarray(a, np.float32), np.asarray(other[key], np.float32)
        if not a.size:
            continue
        diff = float(np.abs(a - b).max())
        scale = float(np.abs(a).max())
        absolute = max(absolute, diff)
        relative = max(relative, diff / scale if scale > 0 else diff)
    return absolute, relative


def parity(device: str, batch: int, seed: int = 7) -> dict:
    """Forward pass and one Nesterov step of model 3 on ``device`` and on the
    CPU from the same weights and momentum buffers, on the same batch
    (dropout off); the largest absolute and relative differences."""
    import torch

    from beetles.paper.torch_layers import set_torch_params

    X, y = epoch_data(batch)
    cpu = build("cpu", seed=seed)
    other = build(device, seed=seed)
    start = {k: v.copy() for k, v in cpu.get_params().items()}  # (a CPU net's arrays may share its memory)
    set_torch_params(other.module, start)  # the same weights, whatever the device's generator
    result = {}
    outputs = {name: net.predict(X) for name, net in (("cpu", cpu), ("device", other))}
    result["forward"] = differences({"out": outputs["cpu"]}, {"out": outputs["device"]})
    result["output_scale"] = float(np.abs(outputs["cpu"]).max())
    if device.startswith("cuda") and tf32_allowed():
        with full_fp32():
            result["forward_fp32"] = differences({"out": outputs["cpu"]}, {"out": other.predict(X)})

    rng = np.random.default_rng(seed)
    velocities = {k: np.float32(0.01 * np.abs(v).max()) * rng.standard_normal(v.shape, dtype=np.float32)
                  for k, v in start.items()}
    losses = {}
    for name, net in (("cpu", cpu), ("device", other)):
        net.set_velocities({k: v.copy() for k, v in velocities.items()})  # each its own: the step is in place
        net.module.eval()  # dropout off: the same computation on both devices
        loss = net.train_step(torch.from_numpy(X).to(net.device), torch.from_numpy(y).to(net.device))
        losses[name] = float(loss.cpu())
    cpu_after, other_after = cpu.get_params(), other.get_params()
    result["weights"] = differences(cpu_after, other_after)
    result["momentum"] = differences(cpu.get_velocities(), other.get_velocities())
    moves = {k: cpu_after[k] - start[k] for k in start}
    result["moves"] = differences(moves, {k: other_after[k] - start[k] for k in start})
    result["loss"] = (losses["cpu"], losses["device"])
    result["step"] = max(result["weights"][0], result["momentum"][0])
    del cpu, other
    release(device)
    return result


def release(device: str) -> None:
    import gc

    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


# --- Timing -----------------------------------------------------------------------

def time_epochs(device: str, samples: int, epochs: int, callback=None) -> dict:
    """``TorchNet.fit`` of model 3 on ``samples`` (batch 128) for one warm-up
    epoch and ``epochs`` timed ones; the timed epochs' seconds (each epoch's
    ``dur``: training batches, validation batches and the losses read back)."""
    X, y = epoch_data(samples)
    net = build(device, epochs=1 + epochs, on_epoch_finished=[callback] if callback else ())
    net.fit(X, y)
    durations = [row["dur"] for row in net.train_history_[1:]]
    train, valid = net.train_split.indices(samples)
    del net
    release(device)
    return {"durations": durations, "train": len(train), "valid": len(valid),
            "ms_per_sample": float(np.mean(durations)) / samples * 1000}


class Barrier:
    """``on_epoch_finished`` callback of a sharing run: after the warm-up
    epoch, write ``ready`` and wait for ``go``; then record when each epoch ends."""

    def __init__(self, ready: Path, go: Path, wait_s: float = 300):
        self.ready, self.go, self.wait_s = ready, go, wait_s
        self.stamps: list[float] = []

    def __call__(self, net, history) -> None:
        if len(history) == 1:
            self.ready.write_text(str(os.getpid()))
            deadline = time.time() + self.wait_s
            while not self.go.exists():
                if time.time() > deadline:
                    raise TimeoutError(f"no {self.go} after {self.wait_s} s")
                time.sleep(0.005)
        self.stamps.append(time.time())


def worker(args) -> int:
    """One sharing run: print ``{"samples", "start", "end"}`` as JSON."""
    barrier = Barrier(Path(args.ready), Path(args.go))
    timing = time_epochs(args.device, args.samples, args.epochs, callback=barrier)
    print(json.dumps({"samples": args.samples * len(timing["durations"]),
                      "start": barrier.stamps[0], "end": barrier.stamps[-1]}), flush=True)
    return 0


def share_throughput(device: str, runs: int, samples: int, epochs: int, timeout_s: float) -> tuple[float | None, str]:
    """``runs`` processes training model 3 at once on ``device``, started
    together after their warm-up epochs: total samples per second, or
    ``None`` and why."""
    folder = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    go = folder / "go"
    procs = []
    deadline = time.time() + timeout_s
    env = dict(os.environ)
    if device == "cpu" and "BEETLES_THREADS" not in env:  # the CPU standing in: its cores shared out
        env["BEETLES_THREADS"] = str(max(1, (os.cpu_count() or 1) // runs))
    try:
        for k in range(runs):
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--device", device,
                       "--samples", str(samples), "--epochs", str(epochs),
                       "--ready", str(folder / f"ready{k}"), "--go", str(go)]
            err = open(folder / f"stderr{k}", "w")
            procs.append((subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True, env=env), err))
        while not all((folder / f"ready{k}").exists() for k in range(runs)):
            dead = [p for p, _ in procs if p.poll() is not None]
            if dead:
                return None, f"a run stopped during its warm-up: {tail(folder, procs, dead[0])}"
            if time.time() > deadline:
                return None, f"warm-up not finished in {timeout_s:.0f} s"
            time.sleep(0.02)
        go.write_text("go")
        results = []
        for proc, _ in procs:
            try:
                out, _ = proc.communicate(timeout=max(1.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                return None, f"not finished in {timeout_s:.0f} s"
            if proc.returncode != 0:
                return None, f"a run failed (status {proc.returncode}): {tail(folder, procs, proc)}"
            results.append(json.loads(out.strip().splitlines()[-1]))
        seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
        about = f"{runs} run(s) × {results[0]['samples']} samples in {seconds:.1f} s"
        return sum(r["samples"] for r in results) / seconds, about
    finally:
        for proc, err in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            err.close()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def tail(folder: Path, procs, proc) -> str:
    k = [p for p, _ in procs].index(proc)
    lines = (folder / f"stderr{k}").read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no message)"


def sharing(share: int) -> str:
    return "one run at a time" if share == 0 else f"{share} run(s) at a time"


# --- Main -----------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu (a check of this script)")
    parser.add_argument("--samples", type=int, default=None,
                        help="samples per timed epoch (default: a round's, 260 specimens × 7 = 1820)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs after one warm-up (default 5)")
    parser.add_argument("--shares", default="1,2,4", help="runs sharing the device at once (default 1,2,4)")
    parser.add_argument("--share-seconds", type=float, default=15,
                        help="about how long each sharing measurement trains (default 15)")
    parser.add_argument("--share-timeout", type=float, default=120, help="seconds allowed per sharing measurement")
    parser.add_argument("--parity-batch", type=int, default=16, help="images of the parity checks (default 16)")
    parser.add_argument("--budget", type=float, default=480,
                        help="seconds for the whole check: sharing measurements that no longer fit are skipped")
    parser.add_argument("--probe", action="store_true", help="only say whether there is a CUDA device (exit 3: none)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ready", help=argparse.SUPPRESS)
    parser.add_argument("--go", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    started = time.time()
    if args.probe:
        return probe()
    if args.samples is None:
        args.samples = paper_jobs()[0].samples
    if args.worker:
        return worker(args)
    if args.device.startswith("cuda") and probe() == NO_DEVICE:
        return 0
    shares = [int(k) for k in args.shares.split(",") if k.strip()]

    info = device_report(args.device)
    gflops = train_speed().matmul_gflops(size=4096 if args.device.startswith("cuda") else 1024, device=args.device)
    say(f"float32 matrix product: {gflops:.0f} GFLOP/s")

    p = parity(args.device, args.parity_batch)
    fwd, fwd_rel = p["forward"]
    say(f"parity, forward pass of model 3 ({args.parity_batch} images, dropout off), {args.device} vs cpu: "
        f"max abs difference {fwd:.2e} (outputs up to {p['output_scale']:.3f}), relative {fwd_rel:.2e}")
    if "forward_fp32" in p:
        say(f"parity, the same in full float32 (TF32 off): max abs difference {p['forward_fp32'][0]:.2e}, "
            f"relative {p['forward_fp32'][1]:.2e}")
    say(f"parity, one Nesterov step (same weights, momentum buffers and batch, dropout off): max abs difference "
        f"weights {p['weights'][0]:.2e}, momentum buffers {p['momentum'][0]:.2e}; relative: weights "
        f"{p['weights'][1]:.2e}, momentum {p['momentum'][1]:.2e}, the step's change of the weights "
        f"{p['moves'][1]:.2e}; loss {p['loss'][0]:.6f} (cpu) {p['loss'][1]:.6f} ({args.device})")
    failed = [f"{what} {value:.2e}" for what, value in (("forward", fwd), ("step", p["step"])) if value > TOLERANCE]
    if failed:
        hint = ""
        if "forward_fp32" in p:
            hint = (" (TF32 allowed: " + ("the full-float32 forward pass is within it, so TF32 is the cause"
                                          if p["forward_fp32"][0] <= TOLERANCE else "not the cause alone") + ")")
        say(f"FAILED: parity over {TOLERANCE:g} (max abs difference): {', '.join(failed)}{hint}")
    else:
        say(f"parity OK: within {TOLERANCE:g}")

    timing = time_epochs(args.device, args.samples, args.epochs)
    ms = timing["ms_per_sample"]
    epoch_s = float(np.mean(timing["durations"]))
    from beetles.paper.networks import training_flops

    floor_ms = training_flops(network(), LANDMARKS) / (gflops * 1e9) * 1000
    say(f"epoch of model 3 at batch 128: {args.samples} samples ({timing['train']} train, {timing['valid']} "
        f"validation), {epoch_s:.3f} s (mean of {len(timing['durations'])} after a warm-up): {ms:.3f} ms per sample; "
        f"the compute floor of a training sample at that matrix-product rate: {floor_ms:.3f} ms")
    fp32_ms = None
    if args.device.startswith("cuda") and tf32_allowed():
        with full_fp32():
            fp32_ms = time_epochs(args.device, args.samples, max(1, args.epochs // 2))["ms_per_sample"]
        say(f"the same epoch in full float32 (TF32 off): {fp32_ms:.3f} ms per sample")

    throughputs, shared = {}, {}
    for k in shares:
        epochs = max(1, min(500, math.ceil(args.share_seconds / (k * epoch_s))))
        left = args.budget - (time.time() - started)
        if left < args.share_timeout:
            say(f"{k} run(s) sharing the device: skipped, {left:.0f} s of the budget left")
            throughputs[k], shared[k] = None, "skipped"
            continue
        rate, about = share_throughput(args.device, k, args.samples, epochs, args.share_timeout)
        throughputs[k], shared[k] = rate, f"{rate:.1f}" if rate else "failed"
        say(f"{k} run(s) sharing the device: " + (f"{rate:.0f} samples/s in all, {rate / k:.0f} per run ({about})"
                                                   if rate else f"failed: {about}"))

    estimate = paper_estimate(ms, throughputs)
    for line in describe_schedule(estimate.jobs):
        say(f"paper schedule, {line}")
    say(f"paper schedule: {len(estimate.jobs)} runs, {estimate.work:.4g} samples in all (every epoch of every run)")
    serial = estimate.hours[(1, 0)]
    say(f"estimate, 1 GPU, one run at a time ({ms:.3f} ms per sample): {serial:.1f} h ({serial / 24:.1f} days)")
    eight = estimate.hours[(8, 0)]
    say(f"estimate, 8 GPUs, one run at a time on each (greedy schedule): {eight:.1f} h ({eight / 24:.1f} days)")
    for g in GPUS:
        for k in sorted(s for (gg, s) in estimate.hours if gg == g and s):
            hours = estimate.hours[(g, k)]
            say(f"estimate, {g} GPU(s), {k} run(s) at a time on each (measured sharing, greedy schedule): "
                f"{hours:.1f} h ({hours / 24:.1f} days)")
    best1, best8 = estimate.best(1), estimate.best(8)
    say(f"estimate: {best1[1]:.1f} h on 1 GPU, {best8[1]:.1f} h on 8 GPUs (the best measured: "
        f"{sharing(best1[0])}, {sharing(best8[0])} on each); checked in {time.time() - started:.0f} s")
    if failed:
        say(f"FAILED: parity over {TOLERANCE:g}: {', '.join(failed)}")
    fields = {"device": f'"{info["name"]}"', "parity_forward": f"{fwd:.2e}", "parity_step": f"{p['step']:.2e}",
              "parity_ok": "false" if failed else "true", "epoch_ms_per_sample": f"{ms:.4f}"}
    if fp32_ms is not None:
        fields["epoch_ms_per_sample_fp32"] = f"{fp32_ms:.4f}"
    fields.update({f"share{k}": value for k, value in shared.items()})
    fields.update({"paper_hours_1gpu": f"{serial:.1f}", "paper_hours_1gpu_best": f"{best1[1]:.1f}",
                   "best_share": str(best1[0] or 1), "paper_hours_8gpu": f"{best8[1]:.1f}"})
    say(" ".join(f"{k}={v}" for k, v in fields.items()))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # a clear last line after the traceback
        import traceback

        traceback.print_exc()
        say(f"FAILED: {type(error).__name__}: {error}")
        sys.exit(1)
