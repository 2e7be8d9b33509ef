"""The real-photo benchmark: ``beetles benchmark`` as a script (see :mod:`beetles.studies.realphotos`).

    python benchmarks/real_photos.py --data ../shared/data/trilomorph/cephala \
        --out results/real_photos/cephala --models zoom cascade

Every contender on the same folds (5 of a seeded shuffle by default, or
``--first N`` by name): the beetles models asked for, trained and placed as
``beetles train`` / ``beetles predict`` do; the trivial mean-shape predictor;
dlib's shape predictor with ml-morph's parameters (the whole photo as its
box, and the true landmarks' box as a reference) when dlib is installed
(``pip install dlib-bin``; not a dependency).  Errors in photo pixels.
"""
import sys

from beetles.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["benchmark", *sys.argv[1:]]))
