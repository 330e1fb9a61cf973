#!/usr/bin/env bash
# Brings every lock the test suite installs from in line with the ranges it allows:
#   tests/requirements/test.txt        the project's `test` extra (pyproject.toml), Python 3.11+
#   tests/requirements/checkov.txt     tests/requirements/checkov.in, Python 3.11+
#   tests/requirements/localstack.txt  tests/requirements/localstack.in, Python 3.13
#   tests/package-lock.json            tests/package.json (workerd)
# Exact versions with hashes, made by `uv pip compile --generate-hashes` (uv is installed into
# .venv-lock). Plain, it keeps every pin that still fits (after adding a dependency, say);
# `bash tests/lock.sh --upgrade` moves every pin to the newest version allowed. Review the
# diff, then run the suite: `bash tests/run.sh`.
# Users are not affected: `pip install .` resolves from pyproject.toml's ranges as before.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
REQ=tests/requirements
upgrade=()
case "${1:-}" in
    --upgrade) upgrade=(--upgrade) ;;
    "") ;;
    *) echo "usage: bash tests/lock.sh [--upgrade]" >&2; exit 2 ;;
esac

if [ ! -x .venv-lock/bin/uv ]; then
    "$PY" -m venv .venv-lock
    .venv-lock/bin/pip install --quiet --disable-pip-version-check 'uv>=0.5'
fi
compile() {  # compile INPUT OUTPUT PYTHON_VERSION [uv options...]
    local input=$1 output=$2 version=$3
    shift 3
    echo "== $output" >&2
    .venv-lock/bin/uv pip compile --quiet --generate-hashes --python-version "$version" \
        --custom-compile-command 'bash tests/lock.sh' "${upgrade[@]}" "$@" -o "$output" "$input"
}
# --universal: one lock for every platform and every Python the project allows.
compile pyproject.toml "$REQ/test.txt" 3.11 --universal --extra test
compile "$REQ/checkov.in" "$REQ/checkov.txt" 3.11 --universal
# LocalStack supports only 3.13, which a universal resolution (for every later Python too)
# cannot satisfy.
compile "$REQ/localstack.in" "$REQ/localstack.txt" 3.13

echo "== tests/package-lock.json" >&2
[ ${#upgrade[@]} = 0 ] || rm -f tests/package-lock.json
npm install --prefix tests --package-lock-only --no-audit --no-fund --loglevel=error
