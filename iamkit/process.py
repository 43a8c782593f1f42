"""Which process is which: a pid is only an address, reused by the OS once its owner exits.

A state file that records a bare pid (a detached sandbox, a case being written) may later name an unrelated
process; signalling it or calling it "still running" would be wrong. A :class:`ProcessRef` records the pid with
the process's start time (kernel clock ticks since boot, ``/proc/<pid>/stat`` field 22, qualified by the boot id),
a fingerprint of its command line and the host, and :func:`is_running` checks them before anyone trusts the pid.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["ProcessRef", "alive", "ancestors", "current", "describe", "is_running", "on_this_host"]


@dataclass(frozen=True)
class ProcessRef:
    """A process as recorded in a state file: pid, start time, command-line fingerprint, host."""

    pid: int
    started: str | None = None  # "<boot id>:<start ticks>" (or psutil's create time); None: unknown here
    cmd_sha256: str | None = None
    host: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> ProcessRef | None:
        """The reference a state file recorded, or None when it is not one (hostile or old state files)."""
        if not isinstance(d, dict):
            return None
        pid = d.get("pid")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        fields = {k: d.get(k) for k in ("started", "cmd_sha256", "host")}
        if any(v is not None and not isinstance(v, str) for v in fields.values()):
            return None
        return cls(pid, **fields)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3… of ``/proc/<pid>/stat`` (state, ppid, …): after the command name, which may hold spaces."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()


def _started(pid: int) -> str | None:
    fields = _stat_fields(pid)
    if fields is not None and len(fields) > 19:
        try:
            boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            boot = ""
        return f"{boot}:{fields[19]}"
    try:  # no /proc (macOS): psutil where installed, else unknown
        import psutil

        return f"psutil:{psutil.Process(pid).create_time()}"
    except Exception:  # noqa: BLE001 - psutil missing or the process gone: unknown
        return None


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
    return fields is None or fields[0] not in ("Z", "X")


def describe(pid: int) -> ProcessRef:
    """The reference of a live process ``pid`` as it is now."""
    return ProcessRef(pid, _started(pid), _cmd_sha256(pid), socket.gethostname())


def current() -> ProcessRef:
    """This process."""
    return describe(os.getpid())


def on_this_host(ref: ProcessRef) -> bool:
    return ref.host is None or ref.host == socket.gethostname()


def is_running(ref: ProcessRef, *, other_host: bool = False) -> bool:
    """True only when ``ref``'s process is alive and is the same process that was recorded.

    Where the start time or command line was recorded and can be read now, both must match; a pid now held by
    another program (same number, different start time or command) is not "running". A process recorded on
    another host cannot be checked: ``other_host`` is the answer then.
    """
    if not on_this_host(ref):
        return other_host
    if not alive(ref.pid):
        return False
    now = describe(ref.pid)
    if ref.started is not None and now.started is not None and ref.started != now.started:
        return False
    return not (ref.cmd_sha256 is not None and now.cmd_sha256 is not None and ref.cmd_sha256 != now.cmd_sha256)


def ancestors(pid: int | None = None, limit: int = 64) -> list[int]:
    """The pids above ``pid`` (default: this process), nearest first; only the parent where there is no /proc."""
    pid = os.getpid() if pid is None else pid
    out: list[int] = []
    for _ in range(limit):
        fields = _stat_fields(pid)
        if fields is None:
            return out or ([os.getppid()] if pid == os.getpid() else [])
        pid = int(fields[1])
        if pid <= 0:
            break
        out.append(pid)
        if pid == 1:
            break
    return out
