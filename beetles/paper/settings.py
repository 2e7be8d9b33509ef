"""The original study's settings, and every choice this reproduction makes.

All the facts of Le Van Linh et al. that the code depends on live here, in
one place, each with where it comes from.  Where the paper and its published
code disagree, or where Python 3 behaves differently from the Python 2 the
authors ran, the constant below records the choice and the reason; the README
("Faithfulness decisions") points here.

Nothing in this module imports Theano: it is plain data.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from beetles.core.frames import NETWORK_SIZE  # noqa: F401  (256×192: photos are downsampled to it)
from beetles.core.letterbox import ASPECT_TOLERANCE as _ASPECT_TOLERANCE
from beetles.core.rounds import Round, make_rounds

#: The authors' camera frame (width, height); the published
#: ``*_original_size.csv`` files are in it.
PHOTO_SIZE = (3264, 2448)


@dataclass(frozen=True)
class Part:
    """One anatomical part of the study.

    ``name`` is used everywhere (folder names, options, file names);
    ``published_prefix`` is the authors' French file prefix in
    :func:`published_dir`.
    """

    name: str
    landmarks: int
    specimens: int
    test_block: int
    published_prefix: str
    title: str

    @property
    def rounds(self) -> int:
        """Number of cross-validation rounds: contiguous test blocks."""
        return -(-self.specimens // self.test_block)


#: The five parts, in the paper's order of presentation of Table 4 last.
#: Landmark and specimen counts: paper section 3 and the published TPS files;
#: test blocks: 9 rounds of 33 (the last 29) for 293 specimens, 11 × 26 for
#: the left mandible, 10 × 30 for the right mandible (paper section 6).
PARTS = {
    p.name: p
    for p in (
        Part("pronotum", 8, 293, 33, "pronotum", "Pronotum"),
        Part("elytra", 11, 293, 33, "elytre", "Elytra"),
        Part("head", 10, 293, 33, "tete", "Head"),
        Part("left_mandible", 16, 286, 26, "mg", "Left mandible"),
        Part("right_mandible", 18, 290, 30, "md", "Right mandible"),
    )
}

PART_NAMES = tuple(PARTS)


def published_dir() -> Path:
    """The landmarks the authors published (manual, from-scratch and
    fine-tuned predictions; see its README), installed with the package as
    ``beetles/paper/published/``."""
    return Path(str(resources.files("beetles.paper") / "published"))


def part(name: str) -> Part:
    """The :class:`Part` called ``name``; a clear error for unknown names."""
    try:
        return PARTS[name]
    except KeyError:
        raise ValueError(
            f"unknown part {name!r}: expected one of {', '.join(PART_NAMES)}"
        ) from None


#: Rounds of a part the study does not have (another lab's data): as many
#: as the paper's 293-specimen parts, fewer for small data.
OTHER_PART_ROUNDS = 9


def part_rounds(part_name: str, n_specimens: int | None = None) -> list[Round]:
    """The paper's rounds for a part: its test block size over ``n_specimens``
    (default: the study's specimen count; for another count, the study's
    number of rounds is kept).  A part the study does not have gets
    :data:`OTHER_PART_ROUNDS` rounds (fewer for small data); ``ValueError``
    for fewer than 2 specimens."""
    if part_name not in PARTS:
        if n_specimens is None or n_specimens < 2:
            raise ValueError(f"{n_specimens} specimen(s): cross-validation needs at least 2")
        return make_rounds(n_specimens, n_rounds=min(OTHER_PART_ROUNDS, n_specimens))
    spec = PARTS[part_name]
    if n_specimens is None or n_specimens == spec.specimens:
        return make_rounds(spec.specimens, test_block=spec.test_block)
    return make_rounds(n_specimens, n_rounds=min(spec.rounds, n_specimens))


# --- Augmentation (paper section 4; prose only, no code was published) -----

#: Constant added to one colour channel in the three "+c" versions.  The paper
#: says it is drawn uniformly in [1, N] and shows c = 10 in its example; N is
#: not given.  Choice: c = 10 for every image, so that augmentation is
#: deterministic and matches the paper's example.
AUGMENT_CONSTANT = 10

#: How a colour version becomes the network's single gray channel.  The paper
#: does not say; the published code reads every image file as gray-scale, so
#: Pillow's ITU-R 601-2 luma ("L" mode) is used for the original and the three
#: "+c" versions; the three channel-split versions are gray already.
GRAY_CONVERSION = "luma"

#: Versions per image: original, +c on R, G, B, then R, G, B as gray.
AUGMENTED_VERSIONS = ("original", "plus_r", "plus_g", "plus_b", "red", "green", "blue")


# --- Training (published code; used by the models and training modules) -----

MAX_EPOCHS_SCRATCH = 5000
MAX_EPOCHS_PRETRAIN = 10000
MAX_EPOCHS_FINETUNE = 10000
LEARNING_RATE = (0.03, 0.00001)  # linspace start → stop over max_epochs
MOMENTUM = (0.9, 0.9999)
FINETUNE_LEARNING_RATE = 0.01
FINETUNE_MOMENTUM = 0.9
BATCH_SIZE = 128
SHUFFLE_SEED = 42  # sklearn.utils.shuffle(X, y, random_state=42) before fit

#: The published code left Lasagne drawing its initial weights (and the
#: seeds of its dropout streams) from NumPy's unseeded global generator, so
#: no two runs started alike.  Choice: both engines seed them from the
#: schedule's seed (``Schedule.seed``, :data:`SHUFFLE_SEED` by default), so a
#: run repeats on the same machine; the weights follow the same distribution.
SEED_WEIGHTS = True

#: ``TrainSplit(eval_size=0.4)``: nolearn makes ``round(1 / 0.4)`` KFold
#: folds and validates on the first.  Python 2 rounds 2.5 up to 3 (2/3 train,
#: 1/3 validation) and the published tables come from that; Python 3 rounds
#: half to even, 2 (1/2, 1/2); the paper's text says 60/40.  Choice: the
#: Python 2 behaviour, the one that produced the published numbers, made
#: explicit as a number of folds rather than left to ``round``.
EVAL_SIZE = 0.4
VALIDATION_FOLDS = 3

#: Elytra and head landmarks (1-based) dropped to pool 8-landmark parts for
#: the pre-training of section 7.
POOLING_DROPPED_LANDMARKS = {"elytra": (1, 6, 9), "head": (5, 6)}

#: Pillow filter used to downsample photos to 256×192.  The paper does not
#: name one; Pillow's Lanczos filter (``ANTIALIAS`` in the PIL of 2017)
#: averages the 12.75×12.75 source pixels behind each target pixel.  Every
#: resize to the network frame uses it (:data:`beetles.core.letterbox.RESAMPLE`).
DOWNSAMPLE_FILTER = "lanczos"

#: Photos must be 4:3 (within this relative tolerance) for the paper's
#: preprocessing, which scales both axes to 256×192 without cropping
#: (:func:`beetles.core.letterbox.check_aspect`, which holds the value).
ASPECT_TOLERANCE = _ASPECT_TOLERANCE
