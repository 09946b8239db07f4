"""One BLAS thread on importing allora_sim (blas.py): a busy second core made OpenBLAS's
threads wait for each other, hundreds of times slower on the core's small products."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = (
    "import numpy, allora_sim, threadpoolctl; "
    "print(sorted({i['num_threads'] for i in threadpoolctl.threadpool_info() "
    "if i['user_api'] == 'blas'}))"
)
USER_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _threads(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in (*USER_VARS, "ALLORA_SIM_BLAS_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", CODE],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_importing_allora_sim_limits_blas_to_one_thread() -> None:
    assert _threads() == "[1]"


def test_the_user_chooses_otherwise() -> None:
    assert _threads(ALLORA_SIM_BLAS_THREADS="2") == "[2]"
    assert _threads(OPENBLAS_NUM_THREADS="2") == "[2]"  # the user's own setting is kept
