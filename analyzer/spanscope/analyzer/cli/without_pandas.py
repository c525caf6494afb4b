"""Keep pandas out of the command-line process.

pyarrow imports pandas, whenever it is installed, the first time it builds or converts
an array (to learn whether an object is a pandas type): 0.3-0.5 s on every command,
which is most of what ``spanscope analyze`` spends on a prepared Parquet file, while no
command ever hands a pandas object to anyone.  The console script therefore answers
"not installed" for pandas before anything else runs; every library then takes its
documented no-pandas path.  Only :func:`spanscope.analyzer.cli.main` does this: the
library API (notebooks, ``to_pandas()``) and programs that call the click group keep
pandas as usual.

A meta-path finder rather than ``sys.modules["pandas"] = None``: some libraries (DuckDB)
read ``sys.modules["pandas"]`` whenever the key is present, and a ``None`` there breaks
them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Final

_BLOCKED: Final = "pandas"


class _WithoutPandas(MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname == _BLOCKED or fullname.startswith(_BLOCKED + "."):
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (the spanscope command does without it)",
                name=fullname,
            )
        return None


def keep_pandas_out() -> None:
    """From now on, importing pandas in this process fails as if it were not installed
    (unless it was imported already: then nothing changes)."""
    if _BLOCKED in sys.modules:
        return
    if not any(isinstance(finder, _WithoutPandas) for finder in sys.meta_path):
        sys.meta_path.insert(0, _WithoutPandas())
