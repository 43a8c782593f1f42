"""Files iamkit writes: atomically (a temporary name beside the target, fsynced, then renamed), and where its
caches live. A killed writer never leaves half a file under a real name; its temporary files are recognisable
(``.<name>.<8 hex>.iamkit-tmp``) so whoever opens the folder next can clean them.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "cache_dir", "is_temp", "temp_path", "write_atomic"]

_TEMP = re.compile(r"\..+\.[0-9a-f]{8}\.iamkit-tmp(\.ipynb)?")


def temp_path(path: Path, suffix: str = "") -> Path:
    """A hidden temporary name beside ``path`` (``.<name>.<8 hex>.iamkit-tmp``), cleaned if a writer dies."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.iamkit-tmp{suffix}")


def is_temp(name: str) -> bool:
    """Whether a file name is one of ``temp_path``'s."""
    return _TEMP.fullmatch(name) is not None


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; renamed onto it (after fsync) when the block succeeds."""
    tmp = temp_path(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` all at once or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def cache_dir() -> Path:
    """iamkit's user cache folder (rebuildable data only): ``$XDG_CACHE_HOME/iamkit``, else ``~/.cache/iamkit``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "iamkit"
