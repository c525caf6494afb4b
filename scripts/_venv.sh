# Sourced by demo.sh and test.sh: make sure .venv exists and holds spanscope with one extra.
#
# The editable install is repeated only when pyproject.toml changed since the last
# successful install of that extra, so a second run starts in seconds.

ensure_venv() {
    local extra=$1
    local python=${PYTHON:-python3}
    if [ ! -x .venv/bin/python ]; then
        echo "==> creating .venv with $($python --version 2>&1)"
        "$python" -m venv .venv
    fi
    local stamp=".venv/.spanscope-installed-$extra"
    local want
    want=$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "==> pip install -e '.[$extra]' (first run: a few minutes)"
        # The pip bundled with Python 3.11 (23.x) gives up on the pinned pre-release
        # versions of the OpenTelemetry instrumentation packages; a current pip resolves them.
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extra]"
        echo "$want" > "$stamp"
    fi
}
