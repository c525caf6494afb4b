"""Console scripts of the current environment (`opentelemetry-instrument`, `spanscope`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from demo_harness.errors import HarnessError


def console_script(name: str) -> str:
    """The script installed next to the running interpreter, else the one on PATH.

    Next to ``sys.executable`` first: a virtualenv run without being activated
    must still use its own tools, not whatever another environment put on PATH.
    """
    beside = Path(sys.executable).with_name(name)
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise HarnessError(
            f"the command {name!r} is not installed in this environment",
            "run `pip install -e '.[demo]'` (scripts/demo.sh does it for you)",
        )
    return found


def run_spanscope(args: Sequence[str], timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the `spanscope` CLI as a user would; stdout and stderr are captured as text."""
    return subprocess.run(
        [console_script("spanscope"), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
