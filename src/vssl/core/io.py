"""Atomic writes: a file or folder is written under a unique temporary sibling name, then renamed into place."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from vssl.core.errors import OutputError


def _temp_sibling(path: Path) -> Path:
    """Create a new, empty, uniquely named hidden file next to ``path`` (``.<name>.<random>.tmp``; permissions as
    for any new file, i.e. following the umask) and return its path."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def output_error(path: str | os.PathLike, error: OSError, what: str = "cannot write") -> OutputError:
    """One line naming ``path`` and the OS's reason (e.g. 'No space left on device')."""
    if isinstance(error, OutputError):
        return error
    return OutputError(f"{what} {path}: {error.strerror or error}")


def ensure_directory(path: str | os.PathLike, key: str = "") -> Path:
    """Create folder ``path`` with any missing parents; an OutputError naming it (and the setting ``key``) if that
    is impossible (a read-only place, a file in the way)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise output_error(path, error, f"{key}: cannot create folder" if key else "cannot create folder") from None
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder (created, with any missing parents) for the caller to write; on
    success it replaces ``path`` with ``os.replace``, on an exception it is removed and ``path`` is untouched. An
    OSError (no space, no permission) becomes an OutputError naming ``path``."""
    path = Path(path)
    ensure_directory(path.parent)
    try:
        tmp = _temp_sibling(path)
    except OSError as error:
        raise output_error(path, error) from None
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise output_error(path, error) from error
        raise


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """``open(path, mode, **kwargs)`` on a temporary sibling that replaces ``path`` when the block completes."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def torch_save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj)`` to ``path`` atomically: serialised in memory, then written as bytes, so that a failed
    write (e.g. a full disk) raises an OSError, hence an OutputError naming ``path``, and leaves no partial file."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes_atomic(path, buffer.getbuffer())


def write_json_atomic(path: str | os.PathLike, data: Any, indent: int | None = 2, trailing_newline: bool = False,
                      **kwargs) -> None:
    """Write ``json.dumps(data, indent=indent, **kwargs)`` (plus a newline if asked) to ``path`` atomically."""
    write_text_atomic(path, json.dumps(data, indent=indent, **kwargs) + ("\n" if trailing_newline else ""))


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new, uniquely named sibling folder of ``path`` to fill; when the block completes it is renamed to
    ``path`` (an older folder there is moved aside, then removed), on an exception it is removed and ``path`` is
    untouched."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        yield tmp
        if path.exists():
            old = tmp.with_name(tmp.name + "-old")
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
