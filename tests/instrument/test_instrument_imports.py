"""Importing the instrumentation half never pulls in the analyzer's heavy dependencies."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import spanscope.instrument

HEAVY = ("pyarrow", "duckdb")


def test_no_instrument_module_imports_pyarrow_or_duckdb() -> None:
    modules = ["spanscope.instrument"] + [
        f"spanscope.instrument.{m.name}"
        for m in pkgutil.iter_modules(spanscope.instrument.__path__)
    ]
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )

    assert len(modules) > 8  # the probe really imported the package's modules
    assert json.loads(result.stdout) == []
