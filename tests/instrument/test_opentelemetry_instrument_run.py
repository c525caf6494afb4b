"""Under the real ``opentelemetry-instrument``, with no configuration but the Django settings module."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
OPENTELEMETRY_INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"

SETTINGS = """
DEBUG = False
SECRET_KEY = "test"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
INSTALLED_APPS = ["spanscope_testapp.apps.InventoryConfig"]
USE_TZ = True
"""

SCRIPT = """
import sys
import time

import django

django.setup()

from django.db import connection
from spanscope_testapp.models import Author, AuthorProfile, Book, Publisher, Tag

with connection.schema_editor() as editor:
    for model in (Publisher, Author, AuthorProfile, Tag, Book):
        editor.create_model(model)
publisher = Publisher.objects.create(name="P")
for i in range(5):
    Book.objects.create(title=f"B{i}", author=Author.objects.create(name=f"A{i}"), publisher=publisher)

for book in Book.objects.all():
    book.author.name  # the N+1 line
print("ready", flush=True)
if "--linger" in sys.argv:
    time.sleep(120)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(HERE / "spanscope_testapp", tmp_path / "spanscope_testapp")
    (tmp_path / "tracedsite").mkdir()
    (tmp_path / "tracedsite" / "__init__.py").write_text("")
    (tmp_path / "tracedsite" / "settings.py").write_text(SETTINGS)
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    return tmp_path


def environment(project: Path, **extra: str) -> dict[str, str]:
    # Nothing from the caller's OpenTelemetry or Python path setup leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHON"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tracedsite.settings",
        SPANSCOPE_TRACES_DIR=str(project / "traces"),
        **extra,
    )
    return env


def command(*args: str) -> list[str]:
    return [str(OPENTELEMETRY_INSTRUMENT), sys.executable, "script.py", *args]


def spans_in(folder: Path) -> list[dict[str, Any]]:
    spans = []
    for path in sorted(folder.glob("spans-*.jsonl")):
        for line in path.read_text().splitlines():
            for rs in json.loads(line)["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    spans += ss["spans"]
    return spans


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}


def n_plus_one_line(project: Path) -> int:
    lines = (project / "script.py").read_text().splitlines()
    return next(i for i, text in enumerate(lines, start=1) if "# the N+1 line" in text)


def test_trace_file_appears_with_attributed_db_spans(project: Path) -> None:
    result = subprocess.run(
        command(),
        cwd=project,
        env=environment(project),
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Failed" not in result.stderr, result.stderr
    files = list((project / "traces").glob("spans-*.jsonl"))
    assert len(files) == 1
    lazy_loads = [
        attributes(s)
        for s in spans_in(project / "traces")
        if attributes(s).get("spanscope.orm.relation")
    ]
    assert len(lazy_loads) == 5
    for attrs in lazy_loads:
        assert attrs["db.system"] == "sqlite"
        assert "%s" in attrs["db.statement"] or "?" in attrs["db.statement"]
        assert attrs["spanscope.orm.relation"] == "inventory.Book.author"
        assert attrs["spanscope.orm.relation_kind"] == "forward_fk"
        assert attrs["spanscope.orm.lookup"] == "author"
        assert attrs["code.file.path"] == str(project / "script.py")
        assert int(attrs["code.line.number"]) == n_plus_one_line(project)
    # One author per book: five different parameters, five different keyed hashes.
    assert len({attrs["spanscope.db.params_hash"] for attrs in lazy_loads}) == 5


def test_sigterm_writes_spans_still_waiting_in_the_batch_queue(project: Path) -> None:
    # A one-minute batch delay: only the SIGTERM flush can write these spans in time.
    env = environment(project, OTEL_BSP_SCHEDULE_DELAY="60000")
    process = subprocess.Popen(
        command("--linger"),
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        assert spans_in(project / "traces") == []  # nothing written before the signal
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert returncode == -signal.SIGTERM  # still "killed by SIGTERM", as without spanscope
    relations = [attributes(s).get("spanscope.orm.relation") for s in spans_in(project / "traces")]
    assert relations.count("inventory.Book.author") == 5
