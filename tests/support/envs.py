"""Where the tools the tests run live. tests/run.sh builds them (from the locks, or with
TEST_DEPS=newest from the ranges) and names them in these variables; pytest run directly
finds the locked ones."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _path(variable: str, default: Path) -> Path:
    return Path(os.environ.get(variable) or default)


CHECKOV = _path("MAINTENANCE_TEST_CHECKOV", ROOT / ".venv-checkov" / "bin" / "checkov")
LOCALSTACK_PYTHON = _path("MAINTENANCE_TEST_LOCALSTACK_PYTHON", ROOT / ".venv-localstack" / "bin" / "python")
WORKERD = _path("MAINTENANCE_TEST_WORKERD", ROOT / "tests" / "node_modules" / ".bin" / "workerd")
# The AWS CLI of the environment running the tests (awscli is in the test extra).
AWS_CLI = Path(sys.executable).with_name("aws")
