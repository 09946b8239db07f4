"""The allocator tuning applied on import (allocator.py): on with glibc, off on request."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CODE = "import allora_sim, allora_sim.allocator as a; print(a._applied)"


def _applied(setting: str) -> str:
    env = {**os.environ, "ALLORA_SIM_MALLOC_TUNING": setting}
    out = subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_switched_off_by_the_environment() -> None:
    assert _applied("0") == "False"
    assert _applied("no") == "False"


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds exist only in glibc",
)
def test_applied_on_glibc() -> None:
    assert _applied("1") == "True"
