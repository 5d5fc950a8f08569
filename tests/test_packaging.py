"""pyproject.toml and envs/layerwise.yaml must declare the same dependencies (issue 2, item 1)."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names the torch package differently; everything else keeps its PyPI name
CONDA_NAME = {"torch": "pytorch"}


def _split(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*(.*)$", requirement).groups()
    return name.lower(), spec.replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(_split(CONDA_NAME.get(_split(r)[0], _split(r)[0]) + _split(r)[1]) for r in reqs)


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "envs" / "layerwise.yaml").read_text())
    out = {}
    for dep in env["dependencies"]:
        for req in dep["pip"] if isinstance(dep, dict) else [dep]:
            name, spec = _split(req)
            if name not in ("python", "pip"):
                out[name] = spec
    return out


def test_conda_env_matches_pyproject():
    assert _conda() == _pyproject()


def test_torch_range_admits_the_local_wheels():
    spec = _pyproject()["pytorch"]
    assert spec.startswith(">=") and "<" not in spec, spec
    assert tuple(int(x) for x in spec[2:].split(".")) <= (2, 14, 1)
