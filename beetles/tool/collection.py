"""A whole collection through ``beetles predict``: chunk by chunk, saved as
it goes, resumable, on this machine or on a Ray cluster.

:func:`place_collection` cuts the photos into chunks
(:func:`beetles.tool.journal.chunks`), places each chunk that its journal
does not already hold (:func:`beetles.tool.predict.place_photos`, decoding
ahead of the network) and writes each into the journal as it is finished;
the output files are then written from the journal, a chunk at a time
(:class:`Placement`), so memory does not grow with the landmarks either.

On a Ray cluster (``--ray auto|ADDRESS``, the optional extra
``beetles[ray]``) the chunks go to a pool of actors (:class:`_Placer`), one
per CPU the cluster offers (with ``--device cuda``: per GPU; at most one per
chunk), each loading the model folder once; the landmarks come back here and go into the same journal, so
the files are those a single machine writes and ``--resume`` works the same.
The workers need the model folder and the photos at the same paths.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from tqdm import tqdm

from beetles.core.errors import BeetlesError
from beetles.core.raycluster import connect
from beetles.tool.journal import Journal, chunks, journal_folder, journal_key


@dataclass
class Placement:
    """What :func:`place_collection` placed: every chunk's landmarks are in
    ``journal`` (read back one chunk at a time by :meth:`placed`, so a
    collection is never held whole); ``counts``: photos placed per chunk
    index; ``skipped``: ``(path, reason)`` of the photos that could not be
    read; ``calibration``: the model folder's (``None``: none)."""

    journal: Journal
    parts: list
    counts: dict
    skipped: list
    calibration: object

    @property
    def count(self) -> int:
        """Photos placed."""
        return sum(self.counts.values())

    def paths(self) -> list:
        """The placed photos' paths, in order."""
        skipped = {str(path) for path, _ in self.skipped}
        return [p for c in self.parts for p in c.photos if str(p) not in skipped]

    def placed(self):
        """Each placed photo's :class:`~beetles.tool.predict.Placed`, in order, a chunk at a time."""
        for chunk in self.parts:
            if self.counts.get(chunk.index):
                yield from self.journal.read(chunk, check=False)[0]


def place_collection(run, out, photos, settings: dict, log=print, warn=None) -> Placement:
    """Place ``photos`` (paths, in order) under ``run`` (a
    :class:`~beetles.tool.predict.PredictSettings`: model folder, passes,
    ``save_every``, ``resume``, ``ray``; ``settings``: the folder's
    ``settings.json``), journaled beside ``out`` (see the module docstring).
    Raises :class:`BeetlesError` when an unfinished run's journal is there
    and ``run.resume`` is not set (nothing is thrown away unasked), or when
    it belongs to other settings."""
    from beetles.tool.modelfolder import load_calibration

    warn = warn or (lambda text: print(text, file=sys.stderr))
    journal = open_journal(run, out, len(photos), settings, log)
    parts = chunks(photos, run.save_every)
    done = {}
    for chunk in parts if run.resume else ():
        saved = journal.read(chunk)
        if saved is not None:
            done[chunk.index] = (len(saved[0]), saved[1])
            _tell_skipped(saved[1], warn)
    if done:
        log(f"resuming: {sum(len(parts[k].photos) for k in done)} of {len(photos)} photo(s) already placed "
            f"(in {journal.folder})")
    todo = [c for c in parts if c.index not in done]
    calibration = load_calibration(run.model_dir)
    bar = tqdm(total=len(photos), initial=len(photos) - sum(len(c.photos) for c in todo), desc="photos",
               unit="img", disable=not run.progress, leave=False)
    try:
        if todo and run.ray is not None:
            done.update(_on_ray(run, todo, journal, bar, warn))
        else:
            done.update(_here(run, todo, journal, calibration, bar, warn))
    except KeyboardInterrupt:
        bar.close()
        kept = sum(len(c.photos) for c in parts if journal.chunk_file(c.index).is_file())
        warn(f"stopped: the landmarks of {kept} of {len(photos)} photo(s) are kept in {journal.folder}; "
             "run the same command with --resume to go on")
        raise
    bar.close()
    skipped = [entry for chunk in parts for entry in done[chunk.index][1]]
    return Placement(journal, parts, {k: n for k, (n, _) in done.items()}, skipped, calibration)


def open_journal(run, out, total: int, settings: dict, log) -> Journal:
    """The :class:`Journal` of ``out`` for ``run``: the unfinished one when
    ``run.resume`` and it matches, else a new one."""
    key = journal_key(run.model_dir, settings, run.passes, run.save_every)
    journal = Journal(journal_folder(out), key)
    saved = journal.saved_key() if journal.saved() else None  # a journal without chunks holds nothing
    if saved is not None and not run.resume:
        raise BeetlesError(f"{journal.folder}: an unfinished run's landmarks are kept there; add --resume to go on "
                           "from them, or remove the folder to place every photo again")
    if run.resume and saved is not None and saved != key:
        raise BeetlesError(f"--resume: {journal.folder} was placed with another model folder, calibration, "
                           "--passes or --save-every; give those, or remove the folder to start over")
    if run.resume and saved is None:
        log(f"--resume: no unfinished run in {journal.folder}; placing every photo")
    if saved is None or not run.resume:
        journal.start(total)
    return journal


def _here(run, todo, journal, calibration, bar, warn) -> dict:
    """Place the ``todo`` chunks on this machine, each saved as it is finished."""
    from beetles.tool.modelfolder import load_folder
    from beetles.tool.predict import place_photos

    results = {}
    model = load_folder(run.model_dir, run.device) if todo else None
    for chunk in todo:
        placed, skipped = place_photos(model, chunk.photos, run.passes, calibration, progress=False, warn=_silent)
        _finished(journal, chunk, placed, skipped, results, bar, warn)
    return results


def _silent(text) -> None:
    """A ``warn`` that says nothing: each chunk's skipped photos are said once it is saved."""


def _finished(journal, chunk, placed, skipped, results: dict, bar, warn) -> None:
    """Save a placed chunk, count it in ``results`` (the landmarks stay in
    the journal only), and tell what it skipped."""
    journal.write(chunk, placed, skipped)
    results[chunk.index] = (len(placed), skipped)
    bar.update(len(chunk.photos))
    if skipped:
        bar.clear()
    _tell_skipped(skipped, warn)


def _tell_skipped(skipped, warn) -> None:
    for path, reason in skipped:
        warn(f"skipped {path}: {reason}")


class _Placer:
    """A Ray actor: the model folder loaded once, placing chunk after chunk."""

    def __init__(self, model_dir, passes: int, device: str):
        from beetles.core.raycluster import use_ray_share
        from beetles.core.torchutil import use_all_cores
        from beetles.tool.modelfolder import load_calibration, load_folder

        use_ray_share()
        use_all_cores()

        self.model, self.calibration = load_folder(model_dir, device), load_calibration(model_dir)
        self.passes = passes

    def place(self, chunk):
        from beetles.tool.predict import place_photos

        return chunk, place_photos(self.model, chunk.photos, self.passes, self.calibration, progress=False,
                                   warn=_silent)


def _on_ray(run, todo, journal, bar, warn) -> dict:
    """Place the ``todo`` chunks on the Ray cluster at ``run.ray``, saving
    each here as it comes back."""
    ray = connect(run.ray)
    from ray.util import ActorPool

    cuda = str(run.device).startswith("cuda")
    offered = ray.cluster_resources().get("GPU" if cuda else "CPU", 1)
    count = max(1, min(len(todo), int(offered)))
    placer = ray.remote(num_cpus=1, num_gpus=1 if cuda else 0)(_Placer)
    pool = ActorPool([placer.remote(str(run.model_dir), run.passes, run.device) for _ in range(count)])
    results = {}
    for chunk, (placed, skipped) in pool.map_unordered(lambda actor, c: actor.place.remote(c), todo):
        _finished(journal, chunk, placed, skipped, results, bar, warn)
    return results
