"""Where a rotated key's secret goes: once to the operator's terminal, or to a file the operator names outside
the case (created new, mode 0600). Never to the case, the journal or a log: the journal records only where."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from iamkit.errors import BadInput

HandOver = Callable[[str, str, str], str]


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def check_target(path: Path | str, case_root: Path | str | None = None) -> Path:
    """``path`` as a place for a secret: outside the case, not there yet; a one-line ``BadInput`` otherwise."""
    p = Path(path).expanduser()
    if case_root is not None and _inside(p, Path(case_root)):
        raise BadInput(
            f"--secret-out {p}: a key's secret is never written into the case folder; name a file outside it"
        )
    if p.exists() or p.is_symlink():
        raise BadInput(f"--secret-out {p}: the file exists; name a new file")
    if not p.parent.is_dir():
        raise BadInput(f"--secret-out {p}: folder {p.parent} does not exist")
    return p


def to_file(path: Path | str, case_root: Path | str | None = None) -> HandOver:
    """A hand-over that writes the new key to ``path`` (checked now, created when the key exists, mode 0600)."""
    target = check_target(path, case_root)

    def hand_over(user: str, key_id: str, secret: str) -> str:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(
                f"# new access key of IAM user {user} (iamkit rotation)\n"
                f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n"
            )
        return f"file {target}"

    return hand_over


def to_terminal(stream=None) -> HandOver:
    """A hand-over that prints the new key once to the operator's terminal (refused when output is not one:
    a redirected stdout could be a log)."""
    out = stream or sys.stdout
    if stream is None and not (hasattr(out, "isatty") and out.isatty()):
        raise BadInput(
            "a new key's secret is shown only on a terminal: run from one, or pass --secret-out FILE (outside the case)"
        )

    def hand_over(user: str, key_id: str, secret: str) -> str:
        out.write(f"\nnew access key of {user}: {key_id}\nsecret (shown once, store it now): {secret}\n\n")
        out.flush()
        return "terminal"

    return hand_over
