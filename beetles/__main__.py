"""``python -m beetles``: the same command line as the ``beetles`` script."""
from beetles.cli import run

run()
