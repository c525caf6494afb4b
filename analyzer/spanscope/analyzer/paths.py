"""Expanding the paths a user names (files, folders, globs) into the files to read."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from spanscope.analyzer.errors import InputNotFoundError

PathArg = str | os.PathLike[str]


@dataclass(frozen=True)
class InputFile:
    path: str
    # True when the user named the file itself: an unknown format is then an error;
    # a stray file found inside a folder (a README, say) is only noted.
    explicit: bool


def expand(paths: PathArg | Sequence[PathArg]) -> list[InputFile]:
    """Files in the order named; folders recursively (sorted, hidden entries skipped); globs.

    Each file appears once even when two arguments match it.
    """
    arguments = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not arguments:
        raise InputNotFoundError("no input named", "pass a trace file, a folder of them or a glob")
    found: dict[str, InputFile] = {}
    for argument in arguments:
        for item in _expand_one(os.fspath(argument)):
            key = os.path.realpath(item.path)
            if key not in found:
                found[key] = item
    return list(found.values())


def _expand_one(argument: str) -> list[InputFile]:
    path = Path(argument).expanduser()
    if path.is_file():
        return [InputFile(str(path), explicit=True)]
    if path.is_dir():
        files = [InputFile(name, explicit=False) for name in _walk(path)]
        if not files:
            raise InputNotFoundError(
                f"folder {argument} holds no trace files",
                "point at the folder the exporter writes to",
            )
        return files
    if glob.has_magic(argument):
        matches = sorted(glob.glob(os.path.expanduser(argument), recursive=True))
        files = []
        for match in matches:
            if os.path.isdir(match):
                files.extend(InputFile(name, explicit=False) for name in _walk(Path(match)))
            elif os.path.isfile(match):
                files.append(InputFile(match, explicit=False))
        if not files:
            raise InputNotFoundError(
                f"no file matches {argument}",
                "check the pattern; quote it so the shell does not expand it",
            )
        return files
    raise InputNotFoundError(
        f"no such file or folder: {argument}",
        "check the path (the default trace folder is ./spanscope-traces)",
    )


def _walk(folder: Path) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.join(root, name)
