"""The case folder: evidence, executed notebooks, journal, report, and a sha256 manifest over all of it.

Layout (DESIGN.md §4)::

    cases/<case-id>/case.yaml  evidence/  notebooks/  journal.jsonl  report.html  manifest.json

``manifest.json`` lists sha256 + size of every other file; ``manifest.sha256`` seals the manifest itself,
so a change to any byte of any file (the manifest included) is caught by ``verify``. While a playbook
runs, ``case.yaml`` says ``status: running`` and an ``INCOMPLETE`` marker exists; both are settled when
the run ends, so a half-written case is never mistaken for a finished one.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput, CaseIntegrityError, NotFound

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MANIFEST = "manifest.json"
SEAL = "manifest.sha256"
MARKER = "INCOMPLETE"
UNANSWERED = "unanswered"  # evidence/unanswered.json: questions a step could not answer, and why
COMPLETE_WITH_ERRORS = "complete with errors"
_SECRET_NAME = re.compile(r"(secret|password|token|credential|private[_-]?key)", re.I)
_SECRET_VALUE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")  # AWS secret key shape


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


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def new_case_id(playbook: str, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d-%H%M%S}-{playbook}-{secrets.token_hex(2)}"


@dataclass
class Case:
    """A case folder on disk. Create with ``Case.create``, reopen with ``Case.open``."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)

    # ---- lifecycle ----
    @classmethod
    def create(cls, root: Path | str, playbook: str, parameters: dict[str, Any], *,
               analyst: str | None = None, caller_identity: dict[str, Any] | None = None,
               case_id: str | None = None, secret_names: frozenset[str] = frozenset()) -> Case:
        from iamkit import __version__

        root = Path(root)
        case_id = case_id or new_case_id(playbook)
        path = root / case_id if root.name != case_id else root
        if path.exists() and any(path.iterdir()):
            raise BadInput(f"case folder {path} already exists and is not empty")
        for sub in ("evidence", "notebooks"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        meta = {
            "id": path.name,
            "playbook": playbook,
            "parameters": redact(parameters, secret_names),
            "analyst": analyst or os.environ.get("USER", "analyst"),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "iamkit_version": __version__,
            "caller_identity": caller_identity or {},
            "status": "running",
        }
        case = cls(path, meta)
        (path / MARKER).write_text("this case is being written; do not trust it until this file is gone\n")
        case._write_meta()
        return case

    @classmethod
    def open(cls, path: Path | str) -> Case:
        import yaml

        path = Path(path)
        meta_file = path / "case.yaml"
        if not meta_file.is_file():
            raise NotFound(f"{path} is not a case folder (no case.yaml)")
        return cls(path, yaml.safe_load(meta_file.read_text()) or {})

    def _write_meta(self) -> None:
        import yaml

        (self.path / "case.yaml").write_text(yaml.safe_dump(self.meta, sort_keys=False))

    def finish(self, status: str = "complete", error: str | None = None) -> None:
        """Settle the case: status recorded, marker removed when complete, manifest sealed. A case whose
        steps left unanswered questions (``note_unanswered``) is ``complete with errors``, never ``complete``."""
        unanswered = self.unanswered()
        if status == "complete" and unanswered:
            status = COMPLETE_WITH_ERRORS
            self.meta["unanswered"] = [f"{u['question']} ({u['step']}): {u['reason']}" for u in unanswered]
        self.meta["status"] = status
        self.meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        if error:
            self.meta["error"] = error
        self._write_meta()
        marker = self.path / MARKER
        if status in ("complete", COMPLETE_WITH_ERRORS):  # it finished; what is missing is said, not hidden
            marker.unlink(missing_ok=True)
        else:
            marker.write_text(f"this case did not finish: {status}: {error or ''}\n")
        self.write_manifest()

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def evidence(self) -> Path:
        return self.path / "evidence"

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
        return json.loads(p.read_text()) if p.is_file() else []

    # ---- evidence ----
    def _evidence_path(self, name: str, suffix: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise BadInput(f"evidence name {name!r} must be letters, digits, '.', '_' or '-'")
        self.evidence.mkdir(exist_ok=True)
        return self.evidence / f"{name}{suffix}"

    def save_frame(self, name: str, df: pd.DataFrame, *, query: dict[str, Any] | None = None) -> Path:
        """Save a frame as Parquet (JSON columns as text) with a sidecar describing the query that made it."""
        path = self._evidence_path(name, ".parquet")
        safe = df.copy()
        for c in safe.columns:
            if safe[c].dtype == object:
                safe[c] = safe[c].map(lambda v: v if v is None or isinstance(v, str)
                                      else json.dumps(v, default=str, sort_keys=True))
        safe.to_parquet(path, index=False)
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
        path.write_text(json.dumps(obj, indent=1, default=str, sort_keys=True))
        return path

    def load_json(self, name: str) -> Any:
        path = self.evidence / f"{name}.json"
        if not path.is_file():
            raise NotFound(f"no evidence {name!r} in case {self.id}")
        return json.loads(path.read_text())

    def save_raw(self, name: str, records: list[Any]) -> Path:
        """Raw pulls, as received, one JSON document per line, gzipped."""
        path = self._evidence_path(name, ".jsonl.gz")
        with gzip.open(path, "wt") as f:
            for r in records:
                f.write(json.dumps(r, default=str) + "\n")
        return path

    # ---- journal ----
    def journal(self, entry: dict[str, Any]) -> None:
        """Append one remediation journal entry (flushed and fsynced before the caller acts)."""
        entry = {"at": dt.datetime.now(dt.UTC).isoformat(), **entry}
        with (self.path / "journal.jsonl").open("a") as f:
            f.write(json.dumps(entry, default=str, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def journal_entries(self) -> list[dict[str, Any]]:
        p = self.path / "journal.jsonl"
        if not p.is_file():
            return []
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]

    # ---- manifest ----
    def files(self) -> list[Path]:
        return sorted(p for p in self.path.rglob("*")
                      if p.is_file() and p.name not in (MANIFEST, SEAL) and ".ipynb_checkpoints" not in p.parts)

    def write_manifest(self) -> Path:
        entries = [{"path": p.relative_to(self.path).as_posix(), "sha256": sha256_file(p), "size": p.stat().st_size}
                   for p in self.files()]
        doc = {"case_id": self.id, "algorithm": "sha256",
               "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "files": entries}
        mpath = self.path / MANIFEST
        mpath.write_text(json.dumps(doc, indent=1))
        (self.path / SEAL).write_text(f"{sha256_file(mpath)}  {MANIFEST}\n")
        return mpath

    def manifest(self) -> dict[str, Any]:
        mpath = self.path / MANIFEST
        if not mpath.is_file():
            raise CaseIntegrityError(f"{self.path}: no {MANIFEST}")
        return json.loads(mpath.read_text())

    def verify(self) -> list[str]:
        """Problems found, one line each naming the file; empty when every file matches the manifest."""
        problems: list[str] = []
        mpath, seal = self.path / MANIFEST, self.path / SEAL
        if not mpath.is_file():
            return [f"{MANIFEST}: missing"]
        if not seal.is_file():
            problems.append(f"{SEAL}: missing")
        elif seal.read_text().split()[:1] != [sha256_file(mpath)]:
            problems.append(f"{MANIFEST}: changed (does not match {SEAL})")
        try:
            listed = {e["path"]: e for e in json.loads(mpath.read_text())["files"]}
        except (ValueError, KeyError, TypeError):
            return problems + [f"{MANIFEST}: not a valid manifest"]
        present = {p.relative_to(self.path).as_posix(): p for p in self.files()}
        for rel, e in listed.items():
            p = present.get(rel)
            if p is None:
                problems.append(f"{rel}: missing")
            elif p.stat().st_size != e["size"] or sha256_file(p) != e["sha256"]:
                problems.append(f"{rel}: changed (sha256 differs from manifest)")
        for rel in sorted(set(present) - set(listed)):
            problems.append(f"{rel}: not in manifest")
        if (self.path / MARKER).exists():
            problems.append(f"{MARKER}: case did not finish")
        return problems
