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
    assert project["package-data"]["allora_sim._configs"] == ["**/*.yaml"]  # every depth


def test_an_installed_package_finds_its_packaged_configs(tmp_path, monkeypatch) -> None:
    """Without a checkout beside it, config_dir() reads allora_sim/_configs (the wheel's copy)."""
    import shutil

    from allora_sim import config

    pkg = tmp_path / "allora_sim"
    pkg.mkdir()
    shutil.copytree(ROOT / "configs", pkg / "_configs")
    monkeypatch.setattr(config, "__file__", str(pkg / "config.py"))
    assert config.config_dir() == pkg / "_configs"


def test_a_missing_config_dir_is_one_clear_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("ALLORA_SIM_CONFIG_DIR", "/nonexistent/configs")
    assert main(["epochs=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("ALLORA_SIM_CONFIG_DIR='/nonexistent/configs' is not a directory")
    with pytest.raises(ConfigError, match="is not a directory"):
        allora_sim.scenario("epochs=2")
