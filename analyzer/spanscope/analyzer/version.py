"""The installed spanscope version, for reports and ``spanscope --version``."""

from __future__ import annotations


def spanscope_version() -> str:
    # Imported here: reading package metadata imports more than most commands need.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spanscope")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
