"""The pins agree everywhere (pyproject, constraints, conda environment), and so do the rules' resources
and the workflow profile."""

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


def _rule_resources() -> dict[str, str]:
    """rule -> its `resources:` block as written in workflow/rules/*.smk."""
    found: dict[str, str] = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0].strip()
            match = re.search(r"^    resources:\n((?:        .*\n)+?)(?=    \w)", block, flags=re.M)
            if match:
                found[name] = match.group(1).strip()
    return found


def test_rule_resources_come_from_the_workflow_profile_only():
    """profiles/default's set-resources is the one place resources are written: every rule reads
    its entry (common.smk loads the profile), so no rule states a value that could disagree."""
    profile = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())["set-resources"]
    rules = _rule_resources()
    assert set(rules) == set(profile), "a rule with resources is missing from profiles/default or the reverse"
    for rule, block in rules.items():
        assert block == f'**RESOURCES["{rule}"],', f"rule {rule} writes its own resources: {block!r}"


def _readme_packages() -> dict[str, str]:
    """package -> what its row of the README's package table says it owns."""
    rows = re.findall(
        r"^\| `(nuwire\.[a-z_]+)`(?:, `(nuwire\.[a-z_]+)`)? \| (.+) \|$", (ROOT / "README.md").read_text(), re.M
    )
    out: dict[str, str] = {}
    for first, second, owns in rows:
        for name in filter(None, (first, second)):
            out[name] = owns
    return out


def test_readme_package_table_matches_the_tree():
    """Every subpackage has a row; in the areas the table lists module by module, every module is
    named and every name is a module."""
    src = ROOT / "src" / "nuwire"
    packages = {f"nuwire.{p.parent.name}" for p in src.glob("*/__init__.py")}
    table = _readme_packages()
    assert set(table) == packages
    for package, owns in table.items():
        modules = {p.stem for p in (src / package.split(".")[1]).glob("*.py")} - {"__init__"}
        named = set(re.findall(r"`([a-z_0-9]+)`", owns))
        assert named <= modules, f"README names {sorted(named - modules)} in {package}, which has no such module"
        if named:  # a row that lists modules lists them all
            assert named == modules, f"README's {package} row leaves out {sorted(modules - named)}"


def test_the_config_schema_is_package_data():
    """An installed (non-editable) nuwire finds its schema beside its modules, the one copy the
    Snakefile validates against too."""
    from nuwire.schema import SCHEMA_PATH

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert SCHEMA_PATH.name in package_data["nuwire"]
    assert SCHEMA_PATH == ROOT / "src" / "nuwire" / SCHEMA_PATH.name and SCHEMA_PATH.is_file()
    assert not list(ROOT.glob("workflow/**/*.schema.yaml"))
    assert "validate(config, str(SCHEMA_PATH)" in (ROOT / "Snakefile").read_text()
