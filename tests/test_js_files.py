"""The JavaScript the package ships: every ``.js`` file is valid as it stands (``node --check``),
the CloudFront Functions' files leave no placeholder unfilled, and pyproject's package-data
names every asset, so that a non-editable install ships it."""

import fnmatch
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from scripts import template as stack
from scripts.template import functions

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scripts"
JS_FILES = sorted(PACKAGE.rglob("*.js"))


def test_there_are_js_files_to_check():
    names = {p.relative_to(PACKAGE).as_posix() for p in JS_FILES}
    assert {"template/functions/viewer-request.js", "template/functions/front-door-request.js",
            "endpoint/node_host.js", "proxies/cloudflare_worker.js"} <= names


@pytest.mark.parametrize("path", JS_FILES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_node_check_passes_on_every_shipped_js_file(path):
    node = shutil.which("node")
    assert node, "node is required (see tests/README.md)"
    run = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("code", [stack.VIEWER_REQUEST_CODE, stack.VIEWER_RESPONSE_CODE,
                                  stack.FRONT_DOOR_REQUEST_CODE, stack.FRONT_DOOR_RESPONSE_CODE])
def test_the_functions_as_the_template_takes_them_have_no_placeholder_include_or_note_left(code):
    assert not re.search(r"__[A-Za-z_]+__", code)
    assert not any(line.startswith("//") for line in code.splitlines())


def test_every_include_names_a_file_beside_it():
    for path in (PACKAGE / "template" / "functions").glob("*.js"):
        for line in path.read_text().splitlines():
            if line.startswith(functions.INCLUDE):
                assert (path.parent / line[len(functions.INCLUDE):].strip()).is_file(), (path, line)


def test_package_data_ships_every_js_and_lua_file():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for path in [*JS_FILES, *PACKAGE.rglob("*.lua")]:
        rel = path.relative_to(PACKAGE)
        owner = next(p for p in rel.parents if (PACKAGE / p / "__init__.py").is_file())
        key = ".".join(["maintenance_endpoint", *owner.parts])
        inside = rel.relative_to(owner).as_posix()
        assert any(fnmatch.fnmatch(inside, pattern) for pattern in package_data.get(key, [])), (key, inside)
