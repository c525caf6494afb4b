"""Run a snippet in a fresh interpreter: what only process start-up configures."""

from __future__ import annotations

import os
import subprocess
import sys


def run_python(
    code: str, drop_prefixes: tuple[str, ...] = ("OTEL_",), **env: str
) -> subprocess.CompletedProcess[str]:
    """``python -c code`` run to its end, with this environment minus the variables
    starting with ``drop_prefixes``, plus ``env``; fails the test if the child fails."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
