"""``engine.connect``: one in-memory database per process, a connection of its own per
thread, so analyses running side by side never see each other's tables."""

from __future__ import annotations

import threading

import pyarrow as pa
from spanscope.analyzer import engine


def _count_rows_as(name: str, rows: int, started: threading.Barrier, out: dict[int, int]) -> None:
    table = pa.table({"x": list(range(rows))})
    with engine.connect({name: table}) as con:
        # Both threads hold a view of the same name at the same time.
        started.wait()
        ((count,),) = con.execute(f"SELECT count(*) FROM {name}").fetchall()
        out[rows] = int(count)


def test_two_threads_registering_the_same_view_name_each_read_their_own_table() -> None:
    started = threading.Barrier(2)
    counts: dict[int, int] = {}
    threads = [
        threading.Thread(target=_count_rows_as, args=("spans", rows, started, counts))
        for rows in (3, 5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == {3: 3, 5: 5}


def test_a_nested_connection_does_not_see_the_outer_views() -> None:
    with (
        engine.connect({"outer": pa.table({"x": [1]})}) as outer,
        engine.connect({"inner": pa.table({"y": [1, 2]})}) as inner,
    ):
        assert inner is not outer
        names = {row[0] for row in inner.execute("SHOW TABLES").fetchall()}
        assert names == {"inner"}


def test_duckdb_is_imported_when_first_needed_or_opened_early_on_another_thread() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from spanscope.analyzer import engine\n"
        "print('after import:', 'duckdb' in sys.modules)\n"
        "engine.open_database_early().join()\n"
        "print('after opening:', 'duckdb' in sys.modules, len(engine._DATABASE))\n"
        "with engine.connect({}) as con:\n"
        "    print('query:', con.execute('SELECT 41 + 1').fetchall()[0][0], len(engine._DATABASE))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.splitlines() == [
        "after import: False",
        "after opening: True 1",
        "query: 42 1",  # the connection is a cursor on the database opened early
    ]
