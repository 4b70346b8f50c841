"""environment.yml (conda) and pyproject.toml (pip) must pin the same packages."""
import re
import tomllib

import yaml

from model.io import ROOT


def _pins(lines):
    pins = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*$", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_environment_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_pins = _pins(project["dependencies"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_pins = _pins(pip_section)
    assert pip_pins, "pyproject.toml pins nothing"
    assert conda_pins == pip_pins
    assert "python=3.11" in env["dependencies"]
    assert project["requires-python"].startswith(">=3.11")


def test_every_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert all("==" in d for d in project["dependencies"]), project["dependencies"]


def test_constraints_agree_with_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = _pins((ROOT / "constraints.txt").read_text().splitlines())
    for name, version in _pins(project["dependencies"]).items():
        assert locked.get(name) == version, name
