"""One BLAS thread; applied on importing allora_sim.

The core's matrix products are small (the reputers' Gram matrix: reputers × reputers over a few
hundred to a few thousand loss entries), and a multi-threaded BLAS gains nothing on them — but
when another process keeps a core busy (a sweep over ``--processes``, a second run, the tests),
OpenBLAS's threads wait for each other: measured on this project's 2-core machine, one
24 × 1,830 Gram product took 50 ms instead of 0.08 ms, a whole wide topic-epoch 69 ms instead of
5 ms. So importing allora_sim limits the BLAS libraries numpy loaded to one thread
(``threadpoolctl``).

Left alone when the user chose: ``ALLORA_SIM_BLAS_THREADS=N`` sets N threads (``0``: leave the
libraries as they are), and an ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or
``MKL_NUM_THREADS`` in the environment is respected.
"""

from __future__ import annotations

import os

__all__ = ["limit_blas_threads"]

_USER_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads() -> int | None:
    """Limit the loaded BLAS libraries' threads; returns the limit set, or ``None``."""
    wanted = os.environ.get("ALLORA_SIM_BLAS_THREADS", "").strip()
    if wanted:
        try:
            limit = int(wanted)
        except ValueError:
            return None
        if limit <= 0:
            return None
    elif any(os.environ.get(v) for v in _USER_VARS):
        return None
    else:
        limit = 1
    try:
        import numpy  # noqa: F401  (loads its BLAS)
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    threadpool_limits(limits=limit, user_api="blas")
    return limit
