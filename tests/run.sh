#!/usr/bin/env bash
# Runs the whole test suite, creating the environments it needs on first use:
#   .venv             Python >= 3.11 with the project and its test extras
#   .venv-checkov     checkov in its own virtualenv (it pins an old boto3)
#   .venv-localstack  LocalStack's CloudFormation engine (needs Python 3.13)
#   tests/node_modules  workerd, Cloudflare's Workers runtime (npm; pinned in tests/package.json)
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k template`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP_FLAGS=(--quiet --disable-pip-version-check)

if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
    echo "== setting up .venv (project + test extras)" >&2
    "$PY" -m venv .venv
    .venv/bin/pip install "${PIP_FLAGS[@]}" -e '.[test]'
    touch .venv/.installed
fi

# Each environment counts as ready only once its marker exists, so an interrupted
# install is redone on the next run rather than left half-made.
if [ ! -f .venv-checkov/.installed ]; then
    echo "== setting up .venv-checkov" >&2
    "$PY" -m venv .venv-checkov
    .venv-checkov/bin/pip install "${PIP_FLAGS[@]}" 'checkov==3.3.30'
    touch .venv-checkov/.installed
fi

# LocalStack needs Python 3.13: the first candidate that really runs it (pyenv shims may not).
PY313=""
for candidate in python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.13*/bin/python3; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
        PY313=$candidate
        break
    fi
done
if [ ! -f .venv-localstack/.installed ] && [ -n "$PY313" ]; then
    echo "== setting up .venv-localstack" >&2
    "$PY313" -m venv .venv-localstack
    .venv-localstack/bin/pip install "${PIP_FLAGS[@]}" 'localstack-core[runtime]==2026.3.0' 'cbor2<6' 'pyopenssl<25'
    touch .venv-localstack/.installed
fi

# workerd runs the Cloudflare Worker recipe; the npm package ships the runtime binary.
# (--no-save: the lock file, made against a registry without the macOS/Windows builds, stays as is.)
if command -v npm >/dev/null && { [ ! -f tests/node_modules/.installed ] \
        || [ tests/package.json -nt tests/node_modules/.installed ]; }; then
    echo "== installing workerd into tests/node_modules" >&2
    npm install --prefix tests --no-save --no-audit --no-fund --loglevel=error
    touch tests/node_modules/.installed
fi

# Lint first (configured in pyproject.toml): zero findings, or the run stops here.
echo "== ruff check" >&2
.venv/bin/ruff check --quiet scripts tests stack.py

# The tests talk to loopback only. Where we can, make that a guarantee: run them in a
# network namespace whose only interface is loopback (needs root and `ip`; the opt-in
# live AWS test, which needs the internet, runs without it).
if [ "${MAINTENANCE_LIVE_TEST:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v ip >/dev/null \
        && unshare -n true 2>/dev/null; then
    exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest "$@"
