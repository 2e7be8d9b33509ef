"""Ray, the optional extra ``beetles[ray]``: one way to reach a cluster for
every command that offers ``--ray auto|ADDRESS`` (the experiments' rounds,
``beetles predict``'s chunks), and a worker's share of the cores."""
from __future__ import annotations

import os

from beetles.core.errors import BeetlesError


def connect(address: str):
    """The ``ray`` module, connected to the cluster at ``address`` (``auto``:
    the running one) unless this process already is; a :class:`BeetlesError`
    when Ray is not installed or the cluster cannot be reached."""
    try:
        import ray
    except ImportError:
        raise BeetlesError("--ray needs Ray: pip install 'beetles[ray]'") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise BeetlesError(f"--ray {address}: cannot reach a Ray cluster ({error})") from None
    return ray


def use_ray_share() -> None:
    """In a Ray worker: compute with the threads Ray gave it (its
    ``OMP_NUM_THREADS``, the task's CPUs) unless ``BEETLES_THREADS`` says."""
    os.environ.setdefault("BEETLES_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
