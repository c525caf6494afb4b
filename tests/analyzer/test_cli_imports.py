"""The analyzer half never imports Django or the OpenTelemetry SDK."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["spanscope.analyzer", "spanscope.analyzer.cli"])
def test_importing_the_analyzer_does_not_import_django_or_the_otel_sdk(module: str) -> None:
    probe = (
        f"import sys, {module}\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'django' "
        f"or m == 'opentelemetry.sdk' or m.startswith('opentelemetry.sdk.'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "", f"{module} imported {proc.stdout.strip()}"
