#!/usr/bin/env bash
# Runs the whole test suite, creating the environments it needs on first use, each from a
# committed lock (exact versions and hashes; `bash tests/lock.sh` refreshes them):
#   .venv             Python >= 3.11, the project and its test extra  (tests/requirements/test.txt)
#   .venv-checkov     checkov, in its own virtualenv (it pins an old boto3)  (checkov.txt)
#   .venv-localstack  LocalStack's CloudFormation engine, Python 3.13  (localstack.txt)
#   tests/node_modules  workerd, Cloudflare's Workers runtime  (tests/package-lock.json, npm ci)
# TEST_DEPS=newest builds the same environments under .venv-newest/ from the ranges instead
# (pyproject.toml, tests/requirements/*.in, tests/package.json), fresh on every run, to see
# what the next lock refresh would bring.
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k template`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
REQ=tests/requirements
PIP_FLAGS=(--quiet --disable-pip-version-check)
DEPS=${TEST_DEPS:-locked}
case "$DEPS" in
    locked) main=.venv checkov=.venv-checkov localstack=.venv-localstack node=tests ;;
    newest) rm -rf .venv-newest
            main=.venv-newest/main checkov=.venv-newest/checkov
            localstack=.venv-newest/localstack node=.venv-newest/node ;;
    *) echo "TEST_DEPS must be 'locked' (the default) or 'newest', not '$DEPS'" >&2; exit 2 ;;
esac

# An environment is ready once its marker holds the checksum of what it was installed from,
# so an interrupted install, or a changed lock, is redone on the next run.
ready() {  # ready DIR FILE...
    [ -f "$1/.installed" ] && [ "$(cat "$1/.installed")" = "$(shift; cat "$@" | sha256sum)" ]
}
mark() {  # mark DIR FILE...
    (d=$1; shift; cat "$@" | sha256sum > "$d/.installed")
}
venv() {  # venv PYTHON DIR LOCK RANGES: a virtualenv from LOCK (or, newest, from RANGES)
    local python=$1 dir=$2 lock=$3 ranges=$4
    echo "== setting up $dir ($DEPS)" >&2
    rm -rf "$dir"
    "$python" -m venv "$dir"
    if [ "$DEPS" = locked ]; then
        "$dir/bin/pip" install "${PIP_FLAGS[@]}" --require-hashes --no-deps -r "$lock"
    else
        "$dir/bin/pip" install "${PIP_FLAGS[@]}" -r "$ranges"
    fi
}

if ! ready "$main" "$REQ/test.txt" pyproject.toml; then
    if [ "$DEPS" = locked ]; then
        venv "$PY" "$main" "$REQ/test.txt" -
        "$main/bin/pip" install "${PIP_FLAGS[@]}" --no-deps -e .
    else
        echo "== setting up $main ($DEPS)" >&2
        "$PY" -m venv "$main"
        "$main/bin/pip" install "${PIP_FLAGS[@]}" -e '.[test]'
    fi
    mark "$main" "$REQ/test.txt" pyproject.toml
fi

if ! ready "$checkov" "$REQ/checkov.txt"; then
    venv "$PY" "$checkov" "$REQ/checkov.txt" "$REQ/checkov.in"
    mark "$checkov" "$REQ/checkov.txt"
fi

# LocalStack needs Python 3.13: the first candidate that really runs it (pyenv shims may not).
PY313=""
for candidate in python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.13*/bin/python3; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
        PY313=$candidate
        break
    fi
done
if [ -n "$PY313" ] && ! ready "$localstack" "$REQ/localstack.txt"; then
    venv "$PY313" "$localstack" "$REQ/localstack.txt" "$REQ/localstack.in"
    mark "$localstack" "$REQ/localstack.txt"
fi

# workerd runs the Cloudflare Worker recipe; the npm package ships the runtime binary.
if command -v npm >/dev/null && ! ready "$node/node_modules" tests/package-lock.json 2>/dev/null; then
    echo "== installing workerd into $node/node_modules ($DEPS)" >&2
    if [ "$DEPS" = locked ]; then
        npm ci --prefix tests --no-audit --no-fund --loglevel=error
    else
        mkdir -p "$node" && cp tests/package.json "$node/"
        npm install --prefix "$node" --no-package-lock --no-audit --no-fund --loglevel=error
    fi
    mark "$node/node_modules" tests/package-lock.json
fi

# Where the tests find them (tests/support/envs.py; these are its defaults when locked).
export MAINTENANCE_TEST_CHECKOV="$PWD/$checkov/bin/checkov"
export MAINTENANCE_TEST_LOCALSTACK_PYTHON="$PWD/$localstack/bin/python"
export MAINTENANCE_TEST_WORKERD="$PWD/$node/node_modules/.bin/workerd"

# Lint first (configured in pyproject.toml): zero findings, or the run stops here.
echo "== ruff check" >&2
"$main/bin/ruff" check --quiet scripts tests stack.py
echo "== mypy" >&2
"$main/bin/mypy"

# What this machine lacks: each tier's tests skip (and fail under CI=true); said once more at
# the end, with the command that installs it.
missing=()
need() {  # need COMMAND TIER INSTALL
    command -v "$1" >/dev/null || missing+=("skipped: $2 ($1 not found); install: $3")
}
need nginx "the nginx recipe and switch tests" "apt-get install nginx-light"
need haproxy "the HAProxy recipe and switch tests" "apt-get install haproxy"
need caddy "the Caddy recipe tests" "apt-get install caddy"
need npm "the Cloudflare Worker tests (workerd)" "apt-get install npm, then bash tests/run.sh"
[ -n "$PY313" ] || missing+=("skipped: the LocalStack tier (no Python 3.13); install: pyenv install 3.13, or python3.13 on the PATH")
command -v unshare >/dev/null && [ "$(id -u)" = 0 ] \
    || missing+=("skipped: the LocalStack tier (needs root and unshare); install: run as root, apt-get install util-linux")

# The tests talk to loopback only. Where we can, make that a guarantee: run them in a
# network namespace whose only interface is loopback (needs root and `ip`; the opt-in
# live AWS test, which needs the internet, runs without it).
pytest=("$main/bin/python" -m pytest "$@")
if [ "${MAINTENANCE_LIVE_TEST:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v ip >/dev/null \
        && unshare -n true 2>/dev/null; then
    pytest=(unshare -n sh -c 'ip link set lo up && exec "$@"' sh "${pytest[@]}")
fi
status=0
"${pytest[@]}" || status=$?
for line in "${missing[@]}"; do
    echo "$line" >&2
done
[ "$DEPS" = locked ] || echo "(TEST_DEPS=newest: environments under .venv-newest/, from the ranges)" >&2
exit "$status"
