"""The case folder: evidence, executed notebooks, journal, report, and a sealed sha256 manifest over all of it.

Layout (docs/architecture.md, "Case folder")::

    cases/<case-id>/case.yaml  evidence/  notebooks/  journal.jsonl  report.html
                    manifest.json  manifest.sha256  [manifest.hmac]  seals.jsonl  .iamkit.lock

What the seal is:

- ``manifest.json`` lists sha256 + size of every file in the folder, hidden ones included. A symlink or any
  other non-regular file is a problem in itself, never followed or hashed through. ``manifest.sha256`` holds
  the manifest's own hash; ``manifest.hmac`` (optional) an HMAC-SHA256 of the manifest under a key that comes
  from the environment or a file and is never written into the case.
- ``seals.jsonl`` is the append-only history: one line per seal (time, iamkit version, actor, the previous
  manifest's hash, this manifest's hash, the files added, changed and removed since). Each manifest covers every
  earlier line and carries the newest line's content, so rewriting history or the last entry is caught.
- Writing happens in a session: ``Case.create``, or ``Case.open_for_write``, the one gate every writer passes.
  It takes the case's lock, verifies the folder against its seal and refuses (``CaseIntegrityError``, naming the
  files) if anything changed outside iamkit; it records the session in the chain when it opens and seals when
  it closes. A session whose process died is *interrupted*: the next writer removes the temporary files it left
  and records what it had changed as unsealed work of that session before going on.
- Every file is written to a temporary name beside it and renamed, so a kill never leaves half a file under
  a real name. While a playbook runs, ``case.yaml`` says ``status: running`` (with the process id and start time)
  and an ``INCOMPLETE`` marker exists; a case whose process is gone reads as ``interrupted``.

The plain seal proves the folder has not changed since iamkit last sealed it *unless* whoever changed it also
recomputed the hashes; only the keyed seal stands against that (see README, "What a case seal proves").
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit import process
from iamkit.errors import BadInput, CaseIntegrityError, NotFound, RemediationError
from iamkit.files import atomic_path, is_temp, temp_path, write_atomic  # noqa: F401 (re-exported)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MANIFEST = "manifest.json"
SEAL = "manifest.sha256"
HMAC_FILE = "manifest.hmac"
SEALS = "seals.jsonl"
LOCK = ".iamkit.lock"
MARKER = "INCOMPLETE"
UNANSWERED = "unanswered"  # evidence/unanswered.json: questions a step could not answer, and why
COMPLETE_WITH_ERRORS = "complete with errors"
JOURNAL = "journal.jsonl"
UNLISTED = frozenset({MANIFEST, SEAL, HMAC_FILE, LOCK})  # top level only: the seal itself and the writers' lock
KEY_ENV = "IAMKIT_CASE_KEY"

_SECRET_NAME = re.compile(r"(secret|password|token|credential|private[_-]?key)", re.I)
_SECRET_VALUE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")  # AWS secret key shape
_EVIDENCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SHOWN_FILES = 5


def redact(params: dict[str, Any], secret_names: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """Parameters safe to write down: values of secret-looking names (or listed ones) become '***'."""
    out = {}
    for k, v in params.items():
        if k in secret_names or _SECRET_NAME.search(k):
            out[k] = "***"
        elif isinstance(v, str) and _SECRET_VALUE.search(v):
            out[k] = _SECRET_VALUE.sub("***", v)
        else:
            out[k] = v
    return out


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _digest(path: Path) -> tuple[str, int]:
    """sha256 and size of the bytes read; a symlink swapped in after listing is refused, not followed."""
    h = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def sha256_file(path: Path) -> str:
    return _digest(path)[0]


def new_case_id(playbook: str, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d-%H%M%S}-{playbook}-{secrets.token_hex(2)}"


def shown(rel: str) -> str:
    """A file name as printed in problems: control characters escaped, so a crafted name cannot fake a line."""
    return rel if rel.isprintable() else rel.encode("unicode_escape").decode("ascii")


# ----------------------------------------------------------------------------------------------- processes
def process_record(pid: int | None = None) -> dict[str, Any]:
    """Who is writing: pid, process start time (tells a reused pid apart), command line and host."""
    return (process.describe(pid) if pid else process.current()).as_dict()


def process_alive(rec: Any) -> bool:
    """Is the recorded process still running? A process on another host cannot be checked: assumed alive."""
    ref = process.ProcessRef.from_dict(rec)
    return ref is not None and process.is_running(ref, other_host=True)


def _is_self_or_ancestor(rec: Any) -> bool:
    """Is the recorded (live) process this one or one of its ancestors (the run that started this kernel)?"""
    ref = process.ProcessRef.from_dict(rec)
    if ref is None or not process.on_this_host(ref) or not process.is_running(ref):
        return False
    return ref.pid == os.getpid() or ref.pid in process.ancestors()


# ------------------------------------------------------------------------------------------------- the key
def _decode_key(text: str, where: str) -> bytes:
    text = text.strip()
    if re.fullmatch(r"(?:[0-9a-fA-F]{2}){16,}", text):
        return bytes.fromhex(text)
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise BadInput(f"{where}: not a key (hex or base64 of at least 16 bytes)")
    return key


def _read_key_file(path: Path, where: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadInput(f"{where}: key file {path} cannot be read ({e.__class__.__name__})") from None
    try:
        return _decode_key(data.decode("ascii"), where)
    except (UnicodeDecodeError, BadInput):
        if len(data) >= 32:  # a binary key file
            return data
        raise BadInput(
            f"{where}: key file {path} holds no key (hex or base64 of at least 16 bytes, or at least 32 raw bytes)"
        ) from None


def case_key(key_file: Path | str | None = None, *, case_dir: Path | None = None) -> bytes | None:
    """The keyed-seal key: ``key_file``, else ``IAMKIT_CASE_KEY`` (hex, base64 or ``@file``; also settable in
    the config file). None when no key is configured. The key is never written anywhere."""
    path: Path | None = None
    if key_file:
        path, where = Path(key_file).expanduser(), "--key-file"
    else:
        from iamkit import config

        spec = (config.load().case_key or "").strip()
        if not spec:
            return None
        if not spec.startswith("@"):
            return _decode_key(spec, KEY_ENV)
        path, where = Path(spec[1:]).expanduser(), KEY_ENV
    if case_dir is not None:
        with contextlib.suppress(OSError):
            if path.resolve().is_relative_to(Path(case_dir).resolve()):
                raise BadInput(
                    f"{where}: the key file must not be inside the case folder (it would be sealed into the evidence)"
                )
    return _read_key_file(path, where)


def _mac(key: bytes, manifest: bytes) -> str:
    return hmac.new(key, manifest, hashlib.sha256).hexdigest()


# ----------------------------------------------------------------------------------------------- listing
@dataclass
class _Listing:
    files: dict[str, Path] = field(default_factory=dict)  # relative posix path → path (regular files only)
    temps: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # symlinks, special files, unreadable folders


def _walk(root: Path) -> _Listing:
    """Every entry under ``root`` without following symlinks; hidden files and folders included."""
    out = _Listing()

    def onerror(e: OSError) -> None:
        rel = Path(e.filename).relative_to(root).as_posix() if e.filename else "?"
        out.problems.append(f"{shown(rel)}: cannot be read ({e.__class__.__name__})")

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        base = Path(dirpath)
        for d in list(dirnames):
            if os.path.islink(base / d):
                out.problems.append(f"{shown((base / d).relative_to(root).as_posix())}: symlink, not allowed in a case")
                dirnames.remove(d)
        dirnames.sort()
        for name in sorted(filenames):
            p = base / name
            rel = p.relative_to(root).as_posix()
            try:
                mode = os.lstat(p).st_mode
            except OSError as e:
                out.problems.append(f"{shown(rel)}: cannot be read ({e.__class__.__name__})")
                continue
            if stat.S_ISLNK(mode):
                out.problems.append(f"{shown(rel)}: symlink, not allowed in a case")
            elif not stat.S_ISREG(mode):
                out.problems.append(f"{shown(rel)}: not a regular file")
            elif base == root and name in UNLISTED:
                continue
            elif is_temp(name):
                out.temps.append(rel)
            else:
                out.files[rel] = p
    return out


def _manifest_shape_ok(doc: Any) -> bool:
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
        return False
    return all(
        isinstance(e, dict)
        and isinstance(e.get("path"), str)
        and isinstance(e.get("sha256"), str)
        and isinstance(e.get("size"), int)
        for e in doc["files"]
    )


def _changes(old: dict[str, dict], new: dict[str, dict]) -> dict[str, list[str]]:
    skip = {SEALS}
    return {
        "added": sorted(set(new) - set(old) - skip),
        "changed": sorted(
            p
            for p in set(new) & set(old) - skip
            if new[p]["sha256"] != old[p]["sha256"] or new[p]["size"] != old[p]["size"]
        ),
        "removed": sorted(set(old) - set(new) - skip),
    }


def _few(names: list[str]) -> str:
    more = f" and {len(names) - _SHOWN_FILES} more" if len(names) > _SHOWN_FILES else ""
    return ", ".join(shown(n) for n in names[:_SHOWN_FILES]) + more


def describe_seal(s: dict[str, Any]) -> str:
    """One line of history: ``#3 2026-… case report (pid 42, iamkit 0.1.0): changed report.html``."""
    proc = s.get("process") if isinstance(s.get("process"), dict) else {}
    parts = [
        f"#{s.get('n', '?')} {s.get('at', '?')} {s.get('actor', '?')}"
        f" (pid {proc.get('pid', '?')}, iamkit {s.get('iamkit', '?')}{', keyed' if s.get('keyed') else ''})"
    ]
    what = [
        f"{k} {_few(v)}"
        for k in ("added", "changed", "removed")
        if isinstance(v := s.get(k), list) and v and all(isinstance(x, str) for x in v)
    ]
    if what:
        parts.append(": " + "; ".join(what) + (" (still writing)" if s.get("open") else ""))
    else:
        parts.append(": opened for writing, verified" if s.get("open") else ": no file changes")
    if s.get("note"):
        parts.append(f" — {s['note']}")
    return shown("".join(parts))


@dataclass
class Verification:
    """What ``Case.check`` found. ``problems``: the folder differs from its seal (a writer refuses);
    ``status``: the case is unfinished, interrupted or being written; ``notes``: said, not failed."""

    problems: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    seal_ok: bool = True  # manifest, its hash, keyed seal and chain intact (file differences aside)
    keyed: bool = False  # the manifest says it was sealed with a key
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # hashes of the files present

    @property
    def ok(self) -> bool:
        return not self.problems and not self.status

    def lines(self) -> list[str]:
        return self.problems + self.status


_OPEN_SESSIONS: list[Case] = []


def _close_open_sessions() -> None:
    """At interpreter exit (a notebook kernel shut down), seal what this process still had open."""
    for case in list(_OPEN_SESSIONS):
        with contextlib.suppress(Exception):
            if case._session_pid == os.getpid():
                case.close()


atexit.register(_close_open_sessions)


def _no_alias_loader():
    import yaml

    class Loader(yaml.SafeLoader):  # aliases would let a crafted case.yaml expand exponentially when rendered
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("aliases are not allowed")
            return super().compose_node(parent, index)

    return Loader


@dataclass
class Case:
    """A case folder on disk. ``Case.create`` starts one, ``Case.open`` reads one, ``Case.open_for_write``
    (a context manager) verifies it and lets a command write into it."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    _role: str = field(default="read", repr=False, compare=False)  # read | owner | joined
    _actor: str = field(default="", repr=False, compare=False)
    _key: bytes | None = field(default=None, repr=False, compare=False)
    _lock_fd: int | None = field(default=None, repr=False, compare=False)
    _session_pid: int | None = field(default=None, repr=False, compare=False)
    _run_gone: bool = field(default=False, repr=False, compare=False)  # case.yaml says running; process gone

    # ---- lifecycle ----
    @classmethod
    def create(
        cls,
        root: Path | str,
        playbook: str,
        parameters: dict[str, Any],
        *,
        analyst: str | None = None,
        caller_identity: dict[str, Any] | None = None,
        case_id: str | None = None,
        secret_names: frozenset[str] = frozenset(),
        key_file: Path | str | None = None,
        playbook_file: Path | None = None,
    ) -> Case:
        """A new case folder, created atomically (two runs cannot both get it), its session open."""
        from iamkit import __version__

        root = Path(root)
        case_id = case_id or new_case_id(playbook)
        path = root / case_id if root.name != case_id else root
        key = case_key(key_file, case_dir=path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(path)
        except FileExistsError:
            if path.is_symlink() or not path.is_dir() or any(path.iterdir()):
                raise BadInput(f"case folder {path} already exists and is not empty") from None
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path / LOCK, flags, 0o600)  # the atomic claim: exactly one creator gets it
        except FileExistsError:
            raise BadInput(f"case folder {path} is being created by another run") from None
        case = cls(path, {})
        case._take(fd, f"create ({playbook})", key)
        try:
            for sub in ("evidence", "notebooks"):
                (path / sub).mkdir(exist_ok=True)
            meta: dict[str, Any] = {
                "id": path.name,
                "playbook": playbook,
                "parameters": redact(parameters, secret_names),
                "analyst": analyst or os.environ.get("USER", "analyst"),
                "created": _now(),
                "iamkit_version": __version__,
                "caller_identity": caller_identity or {},
                "status": "running",
                "process": process_record(),
            }
            if playbook_file is not None:
                meta["playbook_file"] = str(playbook_file)
                meta["playbook_sha256"] = sha256_file(playbook_file)
            case.meta = meta
            write_atomic(path / MARKER, "this case is being written; do not trust it until this file is gone\n")
            case._write_meta()
            case.seal(open_session=True)
        except BaseException:
            case._release()
            raise
        return case

    @classmethod
    def open(cls, path: Path | str) -> Case:
        """Read a case (no writing). A ``running`` case whose process is gone reads as ``interrupted``."""
        import yaml

        path = Path(path)
        meta_file = path / "case.yaml"
        if meta_file.is_symlink():
            raise CaseIntegrityError(f"{path}: case.yaml: symlink, not allowed in a case")
        if not meta_file.is_file():
            raise NotFound(f"{path} is not a case folder (no case.yaml)")
        try:
            meta = yaml.load(meta_file.read_text(), Loader=_no_alias_loader())  # noqa: S506 (a SafeLoader)
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise CaseIntegrityError(f"{path}: case.yaml: not valid YAML ({e.__class__.__name__})") from None
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise CaseIntegrityError(f"{path}: case.yaml: not a mapping")
        case = cls(path, meta)
        if meta.get("status") == "running" and not process_alive(meta.get("process")):
            meta["status"] = "interrupted"
            case._run_gone = True
        return case

    @classmethod
    def open_for_write(cls, path: Path | str, *, actor: str, key_file: Path | str | None = None) -> Case:
        """The one gate for writing into an existing case: verify first, refuse if anything changed.

        Takes the case's lock (refused while another process writes it, unless that process is the run that
        started this one: then this joins the run's session). Settles an interrupted session, verifies every
        file against the seal (and the keyed seal when a key is configured) and raises ``CaseIntegrityError``
        naming the changed files. The session is recorded in the seal chain and sealed by ``close()`` (or at
        the end of a ``with`` block, or at interpreter exit)."""
        case = cls.open(path)
        key = case_key(key_file, case_dir=case.path)
        fd = case._lock_open()
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_record(fd)
            os.close(fd)
            if holder and _is_self_or_ancestor(holder):
                case._role, case._actor, case._key = "joined", actor, key
                case.require_intact(case.check(_key=key, _in_flight_ok=True))
                return case
            who = (
                f"{holder.get('actor', '?')} (pid {holder.get('pid', '?')}) since {holder.get('since', '?')}"
                if holder
                else "another process"
            )
            raise CaseIntegrityError(
                f"case {case.path} is being written by {who}; try again when it has finished"
            ) from None
        case._take(fd, actor, key)
        try:
            case._settle_interrupted()
            v = case.check(_key=key)
            case.require_intact(v)
            if v.keyed and key is None:
                raise CaseIntegrityError(
                    f"case {case.path} has a keyed seal: set {KEY_ENV} or pass --key-file to write into it"
                )
            case.seal(open_session=True, _entries=v.entries)
        except BaseException:
            case._release()
            raise
        return case

    def _take(self, fd: int, actor: str, key: bytes | None) -> None:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CaseIntegrityError(f"case {self.path} is being written by another process") from None
        self._lock_fd, self._role, self._actor, self._key = fd, "owner", actor, key
        self._session_pid = os.getpid()
        _write_record(fd, {**process_record(), "actor": actor, "since": _now()})
        _OPEN_SESSIONS.append(self)

    def _lock_open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            return os.open(self.path / LOCK, flags, 0o600)
        except OSError as e:
            raise CaseIntegrityError(
                f"case {self.path}: {LOCK} cannot be opened ({e.__class__.__name__}; "
                "a symlink is not allowed in a case)"
            ) from None

    def _release(self) -> None:
        import fcntl

        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._lock_fd, 0)
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
        self._lock_fd = None
        self._role = "read"
        with contextlib.suppress(ValueError):
            _OPEN_SESSIONS.remove(self)

    def close(self) -> None:
        """End this command's session: seal what it wrote, release the lock. A joined session just ends."""
        if self._role == "owner":
            try:
                self.seal(open_session=False)
            finally:
                self._release()
        else:
            self._role = "read"

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def require_intact(self, v: Verification | None = None, key_file: Path | str | None = None) -> Verification:
        """Raise ``CaseIntegrityError`` naming the files if the case differs from its seal (checked now unless
        a verification is given); for readers that must not act on a changed case (showing a plan to approve)."""
        v = v if v is not None else self.check(key_file)
        if v.problems:
            more = f"; and {len(v.problems) - 3} more" if len(v.problems) > 3 else ""
            raise CaseIntegrityError(
                f"case {self.path} was changed outside iamkit: "
                f"{'; '.join(v.problems[:3])}{more} (see `iamkit case verify`)"
            )
        return v

    def _settle_interrupted(self) -> None:
        """An earlier session died before sealing: remove its temporary files, mark a dead run
        ``interrupted``, and seal what it left, saying so. Only when the seal itself is intact."""
        history = self._history()
        last = history[-1] if history else None
        dead_session = bool(last and last.get("open") and not process_alive(last.get("process")))
        if last and last.get("open") and not dead_session:
            proc = last.get("process") or {}
            raise CaseIntegrityError(
                f"case {self.path} is still open for writing by {last.get('actor')} "
                f"(pid {proc.get('pid')}); close it there or end that process"
            )
        dead_run = self._run_gone
        if not dead_session and not dead_run:
            return
        v = self.check(_key=self._key)
        if not v.seal_ok:
            self.require_intact(v)
        listed = {e["path"] for e in self.manifest().get("files", [])} if (self.path / MANIFEST).is_file() else set()
        for rel in _walk(self.path).temps:
            if rel not in listed:
                (self.path / rel).unlink(missing_ok=True)
        who = last.get("actor") if dead_session else f"run of {self.meta.get('playbook')}"
        pid = ((last.get("process") if dead_session else self.meta.get("process")) or {}).get("pid", "?")
        self.seal(
            open_session=False,
            actor=f"settle after interrupted {who}",
            note=f"{who} (pid {pid}) stopped before sealing: the changes listed here were never verified",
        )
        if dead_run:
            self._run_gone = False
            self.meta["status"] = "interrupted"
            self.meta["interrupted"] = _now()
            self._write_meta()
            write_atomic(self.path / MARKER, "this case did not finish: interrupted (its process is gone)\n")
            self.seal(open_session=False, actor="mark interrupted")

    # ---- metadata ----
    def _write_meta(self) -> None:
        import yaml

        self._writable()
        write_atomic(self.path / "case.yaml", yaml.safe_dump(self.meta, sort_keys=False))

    def finish(self, status: str = "complete", error: str | None = None) -> None:
        """Settle the case: status recorded, marker removed when it finished, manifest sealed, session closed.
        A case whose steps left unanswered questions (``note_unanswered``) is ``complete with errors``, never
        ``complete``."""
        unanswered = self.unanswered()
        if status == "complete" and unanswered:
            status = COMPLETE_WITH_ERRORS
            self.meta["unanswered"] = [f"{u['question']} ({u['step']}): {u['reason']}" for u in unanswered]
        self.meta["status"] = status
        self.meta["finished"] = _now()
        if error:
            self.meta["error"] = error
        self._write_meta()
        marker = self.path / MARKER
        if status in ("complete", COMPLETE_WITH_ERRORS):  # it finished; what is missing is said, not hidden
            marker.unlink(missing_ok=True)
        else:
            write_atomic(marker, f"this case did not finish: {status}: {error or ''}\n")
        self._actor = f"finish ({status})"
        self.close()

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return str(self.meta.get("status", "unknown"))

    @property
    def evidence(self) -> Path:
        return self.path / "evidence"

    def _writable(self) -> None:
        if self._role not in ("owner", "joined"):
            raise CaseIntegrityError(
                f"case {self.id} is not open for writing: write through Case.open_for_write, "
                "which verifies the case first"
            )

    def _inside(self, rel: str) -> Path:
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or any(p in ("..", ".", "") for p in parts):
            raise BadInput(f"{rel!r} is not a path inside the case")
        path = self.path.joinpath(*parts)
        parent = self.path
        for p in parts[:-1]:
            parent = parent / p
            if parent.is_symlink():
                raise CaseIntegrityError(
                    f"{shown(parent.relative_to(self.path).as_posix())}: symlink, not allowed in a case"
                )
            parent.mkdir(exist_ok=True)
        return path

    def write_file(self, rel: str, data: str | bytes) -> Path:
        """Write a file into the case (atomically: a temporary name, then rename)."""
        self._writable()
        return write_atomic(self._inside(rel), data)

    # ---- what could not be answered ----
    def note_unanswered(self, step: str, question: str, reason: str) -> None:
        """Record that ``step`` could not answer ``question`` (and why): the case ends ``complete with errors``."""
        items = self.unanswered()
        item = {"step": step, "question": question, "reason": " ".join(str(reason).split())[:300]}
        if item not in items:
            self.save_json(UNANSWERED, [*items, item])

    def unanswered(self) -> list[dict[str, str]]:
        """The questions steps could not answer, in the order they were noted."""
        p = self.evidence / f"{UNANSWERED}.json"
        if not p.is_file():
            return []
        from iamkit import jsontext

        items = jsontext.read(p)
        return items if isinstance(items, list) else []

    # ---- evidence ----
    def _evidence_path(self, name: str, suffix: str) -> Path:
        if not _EVIDENCE_NAME.fullmatch(name):
            raise BadInput(f"evidence name {name!r} must be letters, digits, '.', '_' or '-' (not first)")
        self._writable()
        self.evidence.mkdir(exist_ok=True)
        return self.evidence / f"{name}{suffix}"

    def save_frame(self, name: str, df: pd.DataFrame, *, query: dict[str, Any] | None = None) -> Path:
        """Save a frame as Parquet (JSON columns as text) with a sidecar describing the query that made it."""
        path = self._evidence_path(name, ".parquet")
        safe = df.copy()
        for c in safe.columns:
            if safe[c].dtype == object:
                safe[c] = safe[c].map(
                    lambda v: v if v is None or isinstance(v, str) else json.dumps(v, default=str, sort_keys=True)
                )
        with atomic_path(path) as tmp:
            safe.to_parquet(tmp, index=False)
        if query is not None:
            self.save_json(f"{name}.query", {**query, "rows": len(df)})
        return path

    def load_frame(self, name: str) -> pd.DataFrame:
        import pandas as pd

        path = self.evidence / f"{name}.parquet"
        if not path.is_file():
            raise NotFound(f"no evidence frame {name!r} in case {self.id}")
        return pd.read_parquet(path)

    def save_json(self, name: str, obj: Any) -> Path:
        path = self._evidence_path(name, ".json")
        return write_atomic(path, json.dumps(obj, indent=1, default=str, sort_keys=True))

    def load_json(self, name: str) -> Any:
        path = self.evidence / f"{name}.json"
        if not path.is_file():
            raise NotFound(f"no evidence {name!r} in case {self.id}")
        try:
            return json.loads(path.read_text())
        except (ValueError, RecursionError):
            raise BadInput(f"evidence/{name}.json in case {self.id} is not valid JSON") from None

    def save_raw(self, name: str, records: list[Any]) -> Path:
        """Raw pulls, as received, one JSON document per line, gzipped."""
        path = self._evidence_path(name, ".jsonl.gz")
        with atomic_path(path) as tmp, gzip.open(tmp, "wt") as f:
            for r in records:
                f.write(json.dumps(r, default=str) + "\n")
        return path

    # ---- journal ----
    def journal(self, entry: dict[str, Any]) -> None:
        """Append one remediation journal entry (flushed and fsynced before the caller acts). A line cut off
        by an earlier interrupted write is closed first and recorded, so it never swallows this entry."""
        self._writable()
        p = self.path / JOURNAL
        entry = {"at": dt.datetime.now(dt.UTC).isoformat(), **entry}
        line = (json.dumps(entry, default=str, sort_keys=True) + "\n").encode()
        fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "ab") as f:
            size = os.fstat(fd).st_size
            if size:
                with p.open("rb") as r:
                    r.seek(size - 1)
                    torn = r.read(1) != b"\n"
                if torn:
                    n = p.read_bytes().count(b"\n") + 1
                    mark = {
                        "at": entry["at"],
                        "event": "torn-line",
                        "line": n,
                        "note": "the line before was cut off by an interrupted write and is ignored",
                    }
                    f.write(b"\n" + (json.dumps(mark, sort_keys=True) + "\n").encode())
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def read_journal(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The complete journal entries and warnings. A torn last line (an interrupted write) is reported and
        skipped, the entries before it kept; an unreadable line elsewhere means the journal was edited."""
        p = self.path / JOURNAL
        if not p.is_file():
            return [], []
        data = p.read_bytes()
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        entries: list[dict[str, Any]] = []
        bad: list[int] = []
        recorded: set[int] = set()
        for i, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                e = json.loads(raw)
            except (ValueError, RecursionError):
                e = None
            if not isinstance(e, dict):
                bad.append(i)
                continue
            if e.get("event") == "torn-line" and isinstance(e.get("line"), int):
                recorded.add(e["line"])
            entries.append(e)
        warnings = []
        for i in bad:
            if i not in recorded:
                raise RemediationError(
                    f"{JOURNAL} line {i} of case {self.id}: not a journal entry (was the journal edited?)"
                )
            warnings.append(f"{JOURNAL} line {i}: cut off by an interrupted write; ignored")
        if tail.strip():
            warnings.append(
                f"{JOURNAL} line {len(lines) + 1}: cut off by an interrupted write (torn last line); "
                f"ignored, the {len(entries)} complete entries before it are used"
            )
        return entries, warnings

    def journal_entries(self) -> list[dict[str, Any]]:
        return self.read_journal()[0]

    # ---- seal ----
    def files(self) -> list[Path]:
        """Every regular file the manifest covers (all but the seal files, the lock and temporary files)."""
        return list(_walk(self.path).files.values())

    def manifest(self) -> dict[str, Any]:
        mpath = self.path / MANIFEST
        if not mpath.is_file():
            raise CaseIntegrityError(f"{self.path}: no {MANIFEST}")
        try:
            doc = json.loads(mpath.read_bytes())
        except (ValueError, RecursionError):
            doc = None
        if not _manifest_shape_ok(doc):
            raise CaseIntegrityError(f"{self.path}: {MANIFEST} is not a valid manifest")
        return doc

    def _history(self) -> list[dict[str, Any]]:
        p = self.path / SEALS
        if not p.is_file() or p.is_symlink():
            return []
        out = []
        for raw in p.read_bytes().split(b"\n"):
            try:
                e = json.loads(raw) if raw.strip() else None
            except (ValueError, RecursionError):
                e = None
            if isinstance(e, dict):
                out.append(e)
        return out

    def seal(
        self,
        *,
        open_session: bool = True,
        actor: str | None = None,
        note: str = "",
        _entries: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Write a new manifest over every file and append its line to the seal chain; returns that line.

        Only the session's owner seals. Entries already hashed by the verification that opened the session
        may be passed in (nothing can have changed under the lock since)."""
        from iamkit import __version__

        if self._role != "owner":
            raise CaseIntegrityError(f"case {self.id}: only the session that opened it for writing may seal it")
        listing = _walk(self.path)
        if listing.problems:
            raise CaseIntegrityError(f"case {self.path}: cannot seal: {'; '.join(listing.problems[:3])}")
        if _entries is not None and set(_entries) == set(listing.files):
            entries = dict(_entries)
            sha, size = _digest(listing.files[SEALS]) if SEALS in listing.files else (None, None)
            if sha is not None:
                entries[SEALS] = {"path": SEALS, "sha256": sha, "size": size}
        else:
            entries = {}
            for rel, p in listing.files.items():
                sha, size = _digest(p)
                entries[rel] = {"path": rel, "sha256": sha, "size": size}
        mpath = self.path / MANIFEST
        prev_hash, prev_entries = None, {}
        if mpath.is_file():
            raw = mpath.read_bytes()
            prev_hash = hashlib.sha256(raw).hexdigest()
            with contextlib.suppress(CaseIntegrityError):
                prev_entries = {e["path"]: e for e in self.manifest()["files"]}
        history = self._history()
        block = {
            "n": (history[-1].get("n", len(history)) if history else 0) + 1,
            "at": _now(),
            "iamkit": __version__,
            "actor": actor or self._actor or "iamkit",
            "process": process_record(),
            "open": open_session,
            "prev": prev_hash,
            "keyed": self._key is not None,
            **_changes(prev_entries, entries),
        }
        if note:
            block["note"] = note
        doc = {
            "case_id": self.id,
            "algorithm": "sha256",
            "written": block["at"],
            "files": [entries[k] for k in sorted(entries)],
            "seal": block,
        }
        data = json.dumps(doc, indent=1).encode()
        digest = hashlib.sha256(data).hexdigest()
        write_atomic(mpath, data)
        write_atomic(self.path / SEAL, f"{digest}  {MANIFEST}\n")
        if self._key is not None:
            write_atomic(self.path / HMAC_FILE, f"{_mac(self._key, data)}  {MANIFEST}\n")
        else:
            (self.path / HMAC_FILE).unlink(missing_ok=True)
        line = {**block, "manifest_sha256": digest}
        fd = os.open(self.path / SEALS, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "ab") as f:
            f.write((json.dumps(line, sort_keys=True) + "\n").encode())
            f.flush()
            os.fsync(f.fileno())
        return line

    def write_manifest(self) -> Path:
        """Seal now (kept for callers of the old name); the session stays open."""
        self.seal(open_session=True)
        return self.path / MANIFEST

    # ---- verification ----
    def check(
        self, key_file: Path | str | None = None, *, _key: Any = ..., _in_flight_ok: bool = False
    ) -> Verification:
        """Recompute every hash against the manifest, check the seal, the keyed seal and the seal chain."""
        key = case_key(key_file, case_dir=self.path) if _key is ... else _key
        v = Verification()
        listing = _walk(self.path)
        v.problems += listing.problems
        v.seal_ok = not listing.problems
        mpath = self.path / MANIFEST
        if mpath.is_symlink() or not mpath.is_file():
            if not mpath.is_symlink():
                v.problems.append(f"{MANIFEST}: missing")
            v.seal_ok = False
            self._status(v, [])
            return v
        mdata = mpath.read_bytes()
        mhash = hashlib.sha256(mdata).hexdigest()
        sealp = self.path / SEAL
        if not sealp.is_file() or sealp.is_symlink():
            v.problems.append(f"{SEAL}: missing")
            v.seal_ok = False
        elif sealp.read_bytes().split()[:1] != [mhash.encode()]:
            v.problems.append(f"{MANIFEST}: changed (does not match {SEAL})")
            v.seal_ok = False
        try:
            doc = json.loads(mdata)
        except (ValueError, RecursionError):
            doc = None
        if not _manifest_shape_ok(doc):
            v.problems.append(f"{MANIFEST}: not a valid manifest")
            v.seal_ok = False
            self._status(v, [])
            return v
        block = doc.get("seal") if isinstance(doc.get("seal"), dict) else None
        v.keyed = bool(block and block.get("keyed")) or (self.path / HMAC_FILE).exists()
        self._check_keyed(v, key, mdata)
        listed = {e["path"]: e for e in doc["files"]}
        for rel, p in listing.files.items():
            try:
                sha, size = _digest(p)
            except OSError as e:
                v.problems.append(f"{shown(rel)}: cannot be read ({e.__class__.__name__})")
                continue
            v.entries[rel] = {"path": rel, "sha256": sha, "size": size}
        for rel, e in sorted(listed.items()):
            if rel == SEALS:
                continue
            got = v.entries.get(rel)
            if rel not in listing.files:
                v.problems.append(f"{shown(rel)}: missing")
            elif got and (got["size"] != e["size"] or got["sha256"] != e["sha256"]):
                v.problems.append(f"{shown(rel)}: changed (sha256 differs from manifest)")
        for rel in sorted(set(listing.files) - set(listed) - {SEALS}):
            v.problems.append(f"{shown(rel)}: not in manifest")
        if not _in_flight_ok:
            for rel in listing.temps:
                v.problems.append(f"{shown(rel)}: temporary file left by an unfinished write (not in manifest)")
        v.history = self._check_chain(v, block, listed.get(SEALS), mhash)
        self._status(v, v.history)
        return v

    def _check_keyed(self, v: Verification, key: bytes | None, mdata: bytes) -> None:
        hp = self.path / HMAC_FILE
        if key is None:
            if v.keyed:
                v.notes.append("keyed seal present, not checked (no key)")
            return
        if not hp.is_file() or hp.is_symlink():
            why = "the case was sealed with a key" if v.keyed else "a key is set but this case has no keyed seal"
            v.problems.append(f"{HMAC_FILE}: missing ({why})")
            v.seal_ok = False
        elif not hmac.compare_digest((hp.read_bytes().split() or [b""])[0], _mac(key, mdata).encode()):
            v.problems.append(f"{HMAC_FILE}: does not match (wrong key, or the manifest was changed)")
            v.seal_ok = False
        else:
            v.notes.append("keyed seal checked")

    def _check_chain(
        self, v: Verification, block: dict[str, Any] | None, entry: dict[str, Any] | None, mhash: str
    ) -> list[dict[str, Any]]:
        p = self.path / SEALS
        exists = p.is_file() and not p.is_symlink()
        if block is None:  # sealed by an iamkit without the chain
            if exists:
                v.problems.append(f"{SEALS}: not in manifest")
                v.seal_ok = False
            else:
                v.notes.append("no seal history (sealed by an older iamkit)")
            return []
        if not exists:
            v.problems.append(f"{SEALS}: missing")
            v.seal_ok = False
            return []
        data = p.read_bytes()
        history = []
        for i, raw in enumerate(data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"), 1):
            try:
                e = json.loads(raw)
            except (ValueError, RecursionError):
                e = None
            if not isinstance(e, dict):
                v.problems.append(f"{SEALS} line {i}: not a seal")
                v.seal_ok = False
                continue
            history.append(e)
        size = entry["size"] if entry else 0
        if entry and (len(data) < size or hashlib.sha256(data[:size]).hexdigest() != entry["sha256"]):
            v.problems.append(f"{SEALS}: changed (earlier seals were rewritten)")
            v.seal_ok = False
        tail = data[size:]
        last = None
        if tail.endswith(b"\n") and tail.count(b"\n") == 1:
            with contextlib.suppress(ValueError, RecursionError):
                last = json.loads(tail)
        if (
            not isinstance(last, dict)
            or last.get("manifest_sha256") != mhash
            or {k: x for k, x in last.items() if k != "manifest_sha256"} != block
        ):
            v.problems.append(f"{SEALS}: the last seal does not match {MANIFEST}")
            v.seal_ok = False
        for i in range(1, len(history)):
            if history[i].get("prev") != history[i - 1].get("manifest_sha256"):
                v.problems.append(f"{SEALS}: seal #{history[i].get('n', i + 1)} does not link to the seal before it")
                v.seal_ok = False
        return history

    def _status(self, v: Verification, history: list[dict[str, Any]]) -> None:
        if (self.path / MARKER).exists():
            v.status.append(f"{MARKER}: case did not finish")
        last = history[-1] if history else None
        if last and last.get("open"):
            proc = last.get("process") if isinstance(last.get("process"), dict) else {}
            if process_alive(proc):
                v.status.append(
                    f"being written by {shown(str(last.get('actor')))} (pid {proc.get('pid')}) since {last.get('at')}"
                )
            else:
                v.status.append(
                    f"interrupted: {shown(str(last.get('actor')))} (pid {proc.get('pid')}) stopped "
                    "before sealing; the next writer records what it left"
                )
        elif self.meta.get("status") == "interrupted":
            v.status.append("interrupted: the run's process is gone")

    def verify(self, key_file: Path | str | None = None) -> list[str]:
        """Problems found, one line each naming the file; empty when every file matches the seal."""
        return self.check(key_file).lines()

    def history(self) -> list[dict[str, Any]]:
        """The seal chain, oldest first (checked by ``check``)."""
        return self._history()


def _read_record(fd: int) -> dict[str, Any] | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        rec = json.loads(raw) if raw.strip() else None
    except (OSError, ValueError, RecursionError):
        return None
    return rec if isinstance(rec, dict) else None


def _write_record(fd: int, rec: dict[str, Any]) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(rec).encode())
    os.fsync(fd)
