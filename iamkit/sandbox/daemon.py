"""Run a sandbox as a detached process and keep its state in ``~/.iamkit/sandbox.json`` (``IAMKIT_HOME``).

``spawn`` starts ``python -m iamkit.sandbox.daemon`` in its own session and waits for the state file;
``read_state`` / ``stop`` / ``env_of`` are what ``iamkit sandbox env|stop|status`` use. The state file holds
no secrets: the sandbox's fake secrets are put back by ``env_of``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import iamkit.sandbox
from iamkit import config, process
from iamkit.errors import BadInput, IamkitError, NotFound
from iamkit.sandbox.server import FAKE_SECRET

START_TIMEOUT = 300.0


def state_path() -> Path:
    return config.load().sandbox_state


def _is_secret(name: str) -> bool:
    return "SECRET" in name.upper() or "TOKEN" in name.upper()


def _fake_secret(name: str) -> str | None:
    """The sandbox's fixed fake value for a secret-named variable (never stored in the state file)."""
    if name == "AWS_SECRET_ACCESS_KEY":
        return FAKE_SECRET
    if name == "IAMKIT_ENTRA_CLIENT_SECRET":
        try:
            from iamkit.sandbox.entra import CLIENT_SECRET
        except ImportError:
            return None
        return CLIENT_SECRET
    return None


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists and is not a zombie (an exited child nobody reaped yet)."""
    return process.alive(pid)


def is_sandbox(state: dict[str, Any]) -> bool:
    """True when the process a state file names is alive and is that sandbox, not a later owner of its pid.

    New state files record the process's start time and command line (:class:`iamkit.process.ProcessRef`);
    for an older file without them, the live process's command line must be a sandbox's.
    """
    ref = process.ProcessRef.from_dict(state.get("process"))
    if ref is not None:
        return ref.pid == _pid_of(state) and process.is_running(ref)
    pid = _pid_of(state)
    if pid is None or not process.alive(pid):
        return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"iamkit.sandbox.daemon" in cmd or (b"sandbox" in cmd and any(c.endswith(b"iamkit") for c in cmd))


def _pid_of(state: dict[str, Any]) -> int | None:
    pid = state.get("pid")
    return pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None


def read_state(path: Path | None = None) -> dict[str, Any] | None:
    """The recorded state of the running sandbox, or None when none is recorded."""
    path = path or state_path()
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput(f"sandbox state file {path} is not readable JSON ({e}); delete it") from e
    if not isinstance(state, dict) or _pid_of(state) is None:
        raise BadInput(f"sandbox state file {path} does not name a process; delete it")
    return state


def write_state(sb: Any, path: Path | None = None, pid: int | None = None) -> Path:
    """Record a running sandbox (endpoint, pid, work dir, env without secrets) for ``env``/``stop``."""
    path = path or state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    env = sb.env()
    ref = process.describe(pid) if pid else process.current()
    state = {
        "pid": ref.pid,
        "process": ref.as_dict(),
        "endpoint_url": sb.endpoint_url,
        "workdir": str(sb.workdir),
        "manifest": str(sb.manifest_path),
        "org_id": sb.org.org_id,
        "seed": sb.org.seed,
        "management_account_id": sb.org.management_account_id,
        "accounts": len(sb.org.accounts) - 1,
        "notes": sb.notes,
        "env": {k: v for k, v in env.items() if not _is_secret(k)},
        "secret_env": sorted(k for k in env if _is_secret(k)),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)
    return path


def env_of(state: dict[str, Any]) -> dict[str, str]:
    """The full environment for a recorded sandbox (fake secrets restored)."""
    env = dict(state.get("env", {}))
    for name in state.get("secret_env", []):
        value = _fake_secret(name)
        if value is not None:
            env[name] = value
    return env


def running_state(path: Path | None = None) -> dict[str, Any]:
    """The state of a sandbox that is actually running; NotFound otherwise (stale state is removed)."""
    path = path or state_path()
    state = read_state(path)
    if state is None:
        raise NotFound(f"no sandbox is running (no {path}); start one with: iamkit sandbox start --detach")
    if not is_sandbox(state):
        path.unlink(missing_ok=True)
        raise NotFound(f"the recorded sandbox (pid {state['pid']}) is not running any more; removed {path}")
    return state


def spawn(args: dict[str, Any], path: Path | None = None, timeout: float = START_TIMEOUT) -> dict[str, Any]:
    """Start a detached sandbox process with ``start(**args)``; return its state once it is serving."""
    path = path or state_path()
    existing = read_state(path)
    if existing and is_sandbox(existing):
        raise BadInput(
            f"a sandbox is already running (pid {existing['pid']}, {existing['endpoint_url']}); "
            "stop it first: iamkit sandbox stop"
        )
    path.unlink(missing_ok=True)
    workdir = Path(args["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "daemon.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "iamkit.sandbox.daemon", json.dumps(args), str(path)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(path)
        if state and int(state["pid"]) == proc.pid:
            return state
        if proc.poll() is not None:
            tail = (workdir / "daemon.log").read_text(errors="replace").strip().splitlines()[-1:]
            raise IamkitError(
                f"the sandbox process exited with {proc.returncode}: "
                f"{tail[0] if tail else 'no output'} (log: {workdir / 'daemon.log'})"
            )
        time.sleep(0.1)
    proc.terminate()
    raise IamkitError(f"the sandbox did not come up within {timeout:.0f} s (log: {workdir / 'daemon.log'})")


def stop(path: Path | None = None, timeout: float = 20.0) -> dict[str, Any]:
    """Stop the recorded sandbox process (SIGTERM, then SIGKILL) and remove its state file.

    The pid is signalled only when it is still the sandbox that wrote the state (same start time and command
    line): a stale state file whose pid the OS has given to another process is removed, nothing is signalled.
    """
    path = path or state_path()
    state = read_state(path)
    if state is None:
        raise NotFound(f"no sandbox is running (no {path})")
    pid = int(state["pid"])
    if pid == os.getpid():
        raise BadInput("refusing to stop the current process")
    if not is_sandbox(state):
        path.unlink(missing_ok=True)
        if pid_alive(pid):
            raise NotFound(
                f"the recorded sandbox (pid {pid}) is gone and pid {pid} now belongs to another "
                f"process, which was not signalled; removed {path}"
            )
        return state
    if pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return state


def _reap(pid: int) -> None:
    """Collect our own child's exit status (else it lingers as a zombie and looks alive)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def serve(args: dict[str, Any], path: Path) -> None:
    """Daemon body: start the sandbox, record it, serve until SIGTERM/SIGINT, then clean up."""
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    sb = iamkit.sandbox.start(**args)
    try:
        write_state(sb, path)
        print(f"sandbox serving at {sb.endpoint_url} (pid {os.getpid()})", flush=True)
        while not done.wait(1.0):
            pass
    finally:
        sb.stop()
        state = read_state(path) if path.exists() else None
        if state and int(state.get("pid", -1)) == os.getpid():
            path.unlink(missing_ok=True)


if __name__ == "__main__":  # python -m iamkit.sandbox.daemon ARGS_JSON STATE_PATH
    serve(json.loads(sys.argv[1]), Path(sys.argv[2]))
