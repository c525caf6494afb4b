"""How many analyses run side by side.

The analyses' work is Arrow, NumPy and DuckDB calls that release the GIL, so a
second core runs one beside another; more threads than cores (or than the two a
report's longest analyses fill) only add memory held at once.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor


def _cores() -> int:
    # The cores this process may run on, not the machine's: a container's CPU set.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


ANALYSIS_THREADS = max(1, min(2, _cores()))


def analysis_pool() -> ThreadPoolExecutor:
    """A pool for one report's analyses (use it as a context manager)."""
    return ThreadPoolExecutor(max_workers=ANALYSIS_THREADS, thread_name_prefix="spanscope-analysis")
