"""Rounds in parallel: on several processes of one machine, several per GPU
or one GPU each, or on a Ray cluster.

The rounds of an experiment are independent (each trains from the same seed
on its own specimens), so :func:`train_rounds` may train them in any order
and at once; each gives the files a serial run gives, as long as each
process computes with as many threads as the serial one did (a float sum in
another order can differ in its last bits; :func:`worker_threads` gives
each process its share of the cores and the serial run reads the same
``BEETLES_THREADS``).

* ``workers`` > 1: a pool of that many processes (``spawn``), each training
  a round at a time into the experiment's folder, with
  ``cores // workers`` threads; with ``--device cuda`` the rounds go round
  the GPUs (``cuda:0``, ``cuda:1``, … ; more workers than GPUs share them).
* ``ray``: an address (``auto``: the running cluster); each round is a Ray
  task (one GPU each with ``--device cuda``) that trains into a folder of
  its own and sends the round's files back, which are written here, so the
  workers need the photos (at the same path) but no shared results folder.
  Ray is the optional extra ``beetles[ray]``.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

from beetles.core.files import write_bytes
from beetles.core.raycluster import connect, use_ray_share
from beetles.studies.crossval import Experiment, RoundRecord, round_dir, train_round

#: The thread settings a worker's libraries read when they start.
THREAD_VARIABLES = ("BEETLES_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def worker_threads(workers: int) -> int:
    """Threads per worker process: the cores shared out, at least 1."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def devices(experiment: Experiment, count: int) -> list[str]:
    """The device of each of ``count`` rounds: the experiment's, or with
    ``cuda`` the GPUs in turn."""
    if not str(experiment.device).startswith("cuda") or ":" in str(experiment.device):
        return [experiment.device] * count
    import torch

    gpus = max(1, torch.cuda.device_count())
    return [f"cuda:{k % gpus}" for k in range(count)]


@contextlib.contextmanager
def thread_environment(threads: int):
    """``BEETLES_THREADS`` and the BLAS/OpenMP variables set to ``threads``
    for the processes started in the block (and this one), then restored."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def train_rounds(experiment: Experiment, rounds, log=print) -> list[RoundRecord]:
    """Train ``rounds`` (unfinished :class:`~beetles.core.rounds.Round`
    objects) as ``experiment.workers`` and ``experiment.ray`` say; the
    records in the order of ``rounds``.  ``log`` hears of each finished one."""
    if experiment.ray is not None:
        return _on_ray(experiment, rounds, log)
    workers = min(experiment.workers, len(rounds))
    quiet = replace(experiment, progress=False, workers=1)
    records: dict[int, RoundRecord] = {}
    with thread_environment(worker_threads(workers)), ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_train, quiet, round_, device): round_.number
                   for round_, device in zip(rounds, devices(experiment, len(rounds)))}
        for future in as_completed(futures):
            record = future.result()
            records[futures[future]] = record
            log(_finished(record))
    return [records[r.number] for r in rounds]


def _train(experiment: Experiment, round_, device: str) -> RoundRecord:
    """A worker's round (a pool process)."""
    return train_round(replace(experiment, device=device), round_)


def _finished(record: RoundRecord) -> str:
    return (f"round {record.round}: train loss {record.train_loss:.5f}, valid loss {record.valid_loss:.5f}, "
            f"{record.seconds / 60:.1f} min ({record.device})")


def _on_ray(experiment: Experiment, rounds, log) -> list[RoundRecord]:
    ray = connect(experiment.ray)
    cuda = str(experiment.device).startswith("cuda")
    task = ray.remote(num_gpus=1 if cuda else 0, num_cpus=0 if cuda else 1)(_ray_round)
    quiet = replace(experiment, progress=False, workers=1, ray=None)
    pending = {task.remote(quiet, round_): round_ for round_ in rounds}
    records: dict[int, RoundRecord] = {}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        round_ = pending.pop(done[0])
        record, files = ray.get(done[0])
        folder = round_dir(experiment, round_)
        for name, data in sorted(files.items(), key=lambda item: item[0] == "round.json"):  # round.json last
            write_bytes(folder / name, data)
        records[round_.number] = record
        log(_finished(record))
    return [records[r.number] for r in rounds]


def _ray_round(experiment: Experiment, round_) -> tuple[RoundRecord, dict[str, bytes]]:
    """A Ray task: the round trained into a folder of the worker's own; its
    record and files (``{name: bytes}``)."""
    use_ray_share()
    with tempfile.TemporaryDirectory(prefix="beetles-round-") as scratch:
        local = replace(experiment, out=Path(scratch))
        record = train_round(local, round_)
        folder = round_dir(local, round_)
        return record, {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
