"""The locks the suite installs from (tests/run.sh) agree with the ranges they were made from.

A dependency added to pyproject.toml, or a range moved, without `bash tests/run.sh`'s locks
refreshed (`bash tests/lock.sh`) would otherwise go unnoticed: the locked environments are
installed with --no-deps, so a missing package shows up only as an import error somewhere."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQ = ROOT / "tests" / "requirements"
PROJECT = "maintenance-endpoint"


def locked(lock: Path) -> dict[str, Version]:
    """name -> version of every `name==version [; marker] \\` line, each followed by its hashes."""
    text = lock.read_text()
    pins = re.findall(r"^([A-Za-z0-9._-]+)==([^\s;]+)(?: ;[^\\\n]*)? \\\n\s+--hash=sha256:[0-9a-f]{64}",
                      text, re.M)
    assert len(pins) == len(re.findall(r"^[A-Za-z0-9._-]+==", text, re.M)), f"a pin without a hash in {lock}"
    return {canonicalize_name(name): Version(version) for name, version in pins}


def wanted(requirements: list[str], extras: dict[str, list[str]], chosen: set[str]) -> list[Requirement]:
    """The requirements, with the project's own extras (`maintenance-endpoint[frontdoor]`) unfolded."""
    out = []
    for line in requirements:
        req = Requirement(line)
        if canonicalize_name(req.name) == PROJECT:
            out += wanted([r for extra in req.extras for r in extras[extra]], extras, chosen | req.extras)
        elif req.marker is None or any(req.marker.evaluate({"extra": e}) for e in chosen or {""}):
            out.append(req)
    return out


def in_file(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return wanted(project["dependencies"] + extras["test"], extras, {"test"})


@pytest.mark.parametrize("lock, requirements", [
    ("test.txt", project_requirements),
    ("checkov.txt", lambda: wanted(in_file(REQ / "checkov.in"), {}, set())),
    ("localstack.txt", lambda: wanted(in_file(REQ / "localstack.in"), {}, set())),
])
def test_every_range_is_locked_within_it(lock, requirements):
    pins = locked(REQ / lock)
    for req in requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in tests/requirements/{lock}: run bash tests/lock.sh"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"tests/requirements/{lock} has {req.name}=={pins[name]}, outside {req}: run bash tests/lock.sh")


def test_the_npm_lock_matches_package_json():
    package = json.loads((ROOT / "tests" / "package.json").read_text())
    lock = json.loads((ROOT / "tests" / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == package["dependencies"], "run bash tests/lock.sh"
    for name in package["dependencies"]:
        assert lock["packages"][f"node_modules/{name}"]["integrity"].startswith("sha512-")
