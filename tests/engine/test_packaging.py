"""The wheel carries every package and the scenario configs (a non-editable install works)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import allora_sim
from allora_sim.cli import main
from allora_sim.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_and_the_configs_are_in_the_wheel() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(project["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "allora_sim").rglob("__init__.py")
    }
    assert found <= listed, f"add to pyproject's packages: {sorted(found - listed)}"
    assert project["package-dir"]["allora_sim._configs"] == "configs"
    patterns = project["package-data"]["allora_sim._configs"]
    yamls = {p.relative_to(ROOT / "configs") for p in (ROOT / "configs").rglob("*.yaml")}
    assert all(any(y.match(pat) for pat in patterns) for y in yamls)


def test_a_missing_config_dir_is_one_clear_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("ALLORA_SIM_CONFIG_DIR", "/nonexistent/configs")
    assert main(["epochs=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("ALLORA_SIM_CONFIG_DIR='/nonexistent/configs' is not a directory")
    with pytest.raises(ConfigError, match="is not a directory"):
        allora_sim.scenario("epochs=2")
