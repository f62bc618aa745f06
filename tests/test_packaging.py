"""The pins agree everywhere: pyproject, the constraints file and the conda environment."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    return pins


def test_every_direct_dependency_is_pinned_exactly_and_matches_constraints():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = _pins(project["dependencies"] + project["optional-dependencies"]["test"])
    assert len(direct) == len(project["dependencies"]) + len(project["optional-dependencies"]["test"])
    constraints = _pins((ROOT / "requirements" / "constraints.txt").read_text().splitlines())
    for name, version in direct.items():
        assert constraints.get(name) == version, f"{name}: pyproject {version}, constraints {constraints.get(name)}"


def test_conda_environment_matches_constraints():
    env = yaml.safe_load((ROOT / "envs" / "nuwire.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = _pins(pip_section)
    constraints = _pins((ROOT / "requirements" / "constraints.txt").read_text().splitlines())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(conda_pins) == set(_pins(project["dependencies"]))
    for name, version in conda_pins.items():
        assert constraints[name] == version, name
    assert "python=3.11" in env["dependencies"]
