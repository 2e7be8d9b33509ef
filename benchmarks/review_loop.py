"""The review loop, measured: ``beetles benchmark-loop`` as a script (see :mod:`beetles.studies.review_loop`).

    python benchmarks/review_loop.py --data ../shared/data/trilomorph/cephala \
        --out results/review_loop/cephala

Train on 20 labelled photos, predict the rest, correct the 10 % least
certain (simulated: their manual landmarks, through the review's own
saving), retrain from the first model, and compare the error on the photos
never corrected with the trivial predictor, a model trained from scratch on
the same photos, and a model trained on every other photo's manual landmarks.
"""
import sys

from beetles.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["benchmark-loop", *sys.argv[1:]]))
