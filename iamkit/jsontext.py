"""JSON from hostile places (a user's file, a policy document, a trail record), read one way everywhere.

Every failure is an ``IamkitError`` subclass with one line naming the source and what is wrong: not a file,
not UTF-8, truncated, invalid, or nested deeper than the parser can follow (which Python's ``json`` reports as a
``RecursionError``, not a ``JSONDecodeError``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iamkit.errors import BadInput

__all__ = ["parse", "read", "read_text"]


def parse(text: str | bytes, what: str, *, error: type[BadInput] = BadInput) -> Any:
    """The JSON value in ``text``; ``error`` (a ``BadInput`` type) naming ``what`` when it is not JSON."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise error(f"{what}: not UTF-8 text (byte {e.start})") from None
    elif text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise error(f"{what}: empty, not JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        at_end = e.pos >= len(text.rstrip()) - 1 or e.msg.startswith("Unterminated")
        kind = "truncated: not valid JSON" if at_end else "not valid JSON"
        raise error(f"{what}: {kind} at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise error(f"{what}: not valid JSON (nested too deeply to read)") from None


def _bytes(p: Path, what: str, error: type[BadInput]) -> bytes:
    if p.is_dir():
        raise error(f"{what}: is a folder, expected a file")
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise error(f"{what}: no such file") from None
    except OSError as e:
        raise error(f"{what}: cannot read ({e.strerror or e.__class__.__name__})") from None


def read(path: Path | str, what: str | None = None, *, error: type[BadInput] = BadInput) -> Any:
    """The JSON value in the file at ``path``: a folder, a missing or unreadable file is a clear error too."""
    p = Path(path)
    return parse(_bytes(p, what or str(p), error), what or str(p), error=error)


def read_text(path: Path | str, what: str | None = None, *, error: type[BadInput] = BadInput) -> str:
    """The UTF-8 text of the file at ``path`` (a leading BOM dropped), with the same clear errors as ``read``."""
    p = Path(path)
    what = what or str(p)
    try:
        return _bytes(p, what, error).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(f"{what}: not UTF-8 text (byte {e.start})") from None
