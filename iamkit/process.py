"""Which process is which: a pid is only an address, reused by the OS once its owner exits.

A state file that records a bare pid (a detached sandbox, a running case) may later name an unrelated
process; signalling it or calling it "still running" would be wrong. A :class:`ProcessRef` records the pid
with the process's start time (kernel clock ticks since boot, ``/proc/<pid>/stat`` field 22) and a
fingerprint of its command line, and :func:`is_running` checks all three before anyone trusts the pid.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["ProcessRef", "alive", "current", "describe", "is_running"]


@dataclass(frozen=True)
class ProcessRef:
    """A process as recorded in a state file: pid, start time and command-line fingerprint."""

    pid: int
    start_ticks: int | None = None  # None where /proc is not available (then only the pid is known)
    cmd_sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> ProcessRef | None:
        """The reference a state file recorded, or None when it is not one (hostile or old state files)."""
        if not isinstance(d, dict):
            return None
        pid, start, cmd = d.get("pid"), d.get("start_ticks"), d.get("cmd_sha256")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        if start is not None and (not isinstance(start, int) or isinstance(start, bool)):
            return None
        if cmd is not None and not isinstance(cmd, str):
            return None
        return cls(pid, start, cmd)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces and parentheses)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()


def _cmd_sha256(pid: int) -> str | None:
    try:
        return hashlib.sha256(Path(f"/proc/{pid}/cmdline").read_bytes()).hexdigest()
    except OSError:
        return None


def alive(pid: int) -> bool:
    """True when process ``pid`` exists and is not a zombie (an exited child nobody reaped yet)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    return fields is None or fields[0] != "Z"


def describe(pid: int) -> ProcessRef:
    """The reference of a live process ``pid`` as it is now."""
    fields = _stat_fields(pid)
    start = int(fields[19]) if fields and len(fields) > 19 and fields[19].isdigit() else None
    return ProcessRef(pid, start, _cmd_sha256(pid))


def current() -> ProcessRef:
    """This process."""
    return describe(os.getpid())


def is_running(ref: ProcessRef) -> bool:
    """True only when ``ref``'s process is alive and is the same process that was recorded.

    Where the start time or command line was recorded and can be read now, both must match; a pid now held by
    another program (same number, different start time or command) is not "running".
    """
    if not alive(ref.pid):
        return False
    now = describe(ref.pid)
    if ref.start_ticks is not None and now.start_ticks is not None and ref.start_ticks != now.start_ticks:
        return False
    return not (ref.cmd_sha256 is not None and now.cmd_sha256 is not None and ref.cmd_sha256 != now.cmd_sha256)
