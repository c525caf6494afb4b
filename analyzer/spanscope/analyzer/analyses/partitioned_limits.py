"""How many spans ``analyze``, ``compare``, ``check`` and ``correlate`` hold at once.

Apart from :mod:`.partitioned` (which brings the readers and the rollups with it) so
that light modules can take the default without importing them.
"""

from __future__ import annotations

from typing import Final

from spanscope.analyzer.errors import UsageError

#: Inputs up to this many spans (~250 MB of OTLP JSON) are analysed in memory; larger
#: ones a partition of about this many spans at a time.
DEFAULT_MEMORY_SPANS: Final = 400_000


#: Fewer spans than this per partition would spend more on per-partition work than
#: the memory saved is worth.
MIN_MEMORY_SPANS: Final = 100


def check_memory_spans(memory_spans: int) -> int:
    if memory_spans < MIN_MEMORY_SPANS:
        raise UsageError(
            f"--memory-spans must be at least {MIN_MEMORY_SPANS:,} (got {memory_spans:,})",
            f"pass a value of {MIN_MEMORY_SPANS:,} or more; the default is "
            f"{DEFAULT_MEMORY_SPANS:,}",
        )
    return memory_spans
