"""What `pip install spanscope[...]` puts on a machine.

One wheel, one top-level name (`spanscope`, a PEP 420 namespace spread over two
source roots), and extras that keep each half light: a production image that
only instruments never pulls in the analyzer's engine, a laptop that only
analyzes never needs Django or the OpenTelemetry SDK.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT: dict[str, Any] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
NAME = canonicalize_name(PROJECT["name"])


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """File names inside the wheel that `pip wheel` builds from this checkout."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(REPO_ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_wheel_installs_only_the_spanscope_namespace(wheel_names: list[str]) -> None:
    top_level = {name.split("/", 1)[0] for name in wheel_names}
    dist_info = {name for name in top_level if name.endswith(".dist-info")}
    assert top_level - dist_info == {"spanscope"}


def test_wheel_keeps_spanscope_a_namespace_package(wheel_names: list[str]) -> None:
    assert "spanscope/__init__.py" not in wheel_names


def test_wheel_holds_both_halves(wheel_names: list[str]) -> None:
    assert {"spanscope/instrument/__init__.py", "spanscope/analyzer/__init__.py"} <= set(
        wheel_names
    )


def requirements(extra: str) -> Iterator[Requirement]:
    """The requirements ``spanscope[extra]`` installs, self-references (``spanscope[all]``) expanded."""
    yield from (Requirement(text) for text in PROJECT.get("dependencies", []))
    pending, seen = [extra], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for text in PROJECT["optional-dependencies"][current]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == NAME:
                pending.extend(requirement.extras)
            else:
                yield requirement


def installed_names(extra: str) -> set[str]:
    return {canonicalize_name(requirement.name) for requirement in requirements(extra)}


@pytest.mark.parametrize("heavy", ["pyarrow", "duckdb"])
def test_instrument_extra_leaves_out_the_analyzer_engine(heavy: str) -> None:
    assert "opentelemetry-sdk" in installed_names("instrument")  # the extra is what we think
    assert heavy not in installed_names("instrument")


@pytest.mark.parametrize("heavy", ["django", "opentelemetry-sdk"])
def test_analyzer_extra_leaves_out_django_and_the_sdk(heavy: str) -> None:
    assert "pyarrow" in installed_names("analyzer")  # the extra is what we think
    assert heavy not in installed_names("analyzer")


def test_demo_extra_brings_both_halves_and_django() -> None:
    assert {"pyarrow", "opentelemetry-sdk", "django", "psycopg"} <= installed_names("demo")
