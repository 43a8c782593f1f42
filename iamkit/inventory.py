"""Organization-scale IAM inventory: collect every account into frames, save/load snapshots, diff them.

``collect(...) -> Inventory`` fans out over the organization (see ``iamkit.aws.fanout``);
``Inventory.save(dir)`` writes one Parquet file per frame plus ``manifest.json`` (sha256 per file);
``Inventory.load(dir)`` verifies and reads it back; ``diff(old, new)`` is the weekly drift report;
``from_authorization_details(paths)`` builds the same frames from ``aws iam
get-account-authorization-details`` exports, for users who only have that file.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit import config, frames, jsontext
from iamkit.aws import fanout
from iamkit.aws.authz import AuthzBuilder, account_of, looks_like_authz
from iamkit.aws.calls import ErrorLog, Scope
from iamkit.aws.collectors import (
    credential_report,
    iam,
    identity_center,
    merge,
    organizations,
    posture,
    resources,
)
from iamkit.aws.session import AwsContext, Hook, connect
from iamkit.errors import BadInput

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

FRAME_NAMES = (
    "accounts",
    "principals",
    "policies",
    "statements",
    "trusts",
    "access_keys",
    "credentials",
    "resource_policies",
    "identity_center",
    "posture",
    "errors",
)
MANIFEST = "manifest.json"
FORMAT = "iamkit-inventory/1"

frames.register(
    "drift",
    {"kind": frames.S, "change": frames.S, "account_id": frames.S, "key": frames.S, "detail": frames.S},
    "Inventory diff: kind principal|policy|trust|access_key|resource_policy, "
    "change added|removed|changed, key = ARN / key id, detail says what changed.",
)


# row order of each frame (stable across runs, so identical collections give identical files)
_ORDER = {
    "accounts": ["account_id"],
    "principals": ["account_id", "principal_type", "arn"],
    "policies": ["account_id", "policy_type", "policy_arn", "attached_to_arn", "policy_name", "version_id"],
    "statements": ["account_id", "policy_arn", "attached_to_arn", "policy_name", "statement_index"],
    "trusts": ["account_id", "role_arn", "sid", "principal_type", "principal"],
    "access_keys": ["account_id", "user_name", "access_key_id"],
    "credentials": ["account_id", "user"],
    "resource_policies": ["account_id", "region", "service", "resource_arn"],
    "identity_center": ["instance_arn", "kind", "id"],
    "posture": ["account_id", "region", "control", "resource_arn"],
}


def _ordered(df: pd.DataFrame, name: str) -> pd.DataFrame:
    keys = _ORDER.get(name)
    if not keys or df.empty:
        return df
    return df.sort_values(keys, na_position="first", kind="stable").reset_index(drop=True)


def _empty(name: str) -> pd.DataFrame:
    return frames.empty(name)


@dataclass
class Inventory:
    """One snapshot: a DataFrame per frame of ``FRAME_NAMES`` (schemas in ``iamkit.frames``) + metadata."""

    accounts: pd.DataFrame = field(default_factory=lambda: _empty("accounts"))
    principals: pd.DataFrame = field(default_factory=lambda: _empty("principals"))
    policies: pd.DataFrame = field(default_factory=lambda: _empty("policies"))
    statements: pd.DataFrame = field(default_factory=lambda: _empty("statements"))
    trusts: pd.DataFrame = field(default_factory=lambda: _empty("trusts"))
    access_keys: pd.DataFrame = field(default_factory=lambda: _empty("access_keys"))
    credentials: pd.DataFrame = field(default_factory=lambda: _empty("credentials"))
    resource_policies: pd.DataFrame = field(default_factory=lambda: _empty("resource_policies"))
    identity_center: pd.DataFrame = field(default_factory=lambda: _empty("identity_center"))
    posture: pd.DataFrame = field(default_factory=lambda: _empty("posture"))
    errors: pd.DataFrame = field(default_factory=lambda: _empty("errors"))
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: dict[str, list[dict[str, Any]]], meta: dict[str, Any] | None = None) -> Inventory:
        """An inventory from row dicts per frame (missing frames empty), each conformed to its schema."""
        return cls(
            **{n: _ordered(frames.conform(rows[n], n), n) if rows.get(n) else _empty(n) for n in FRAME_NAMES},
            meta=dict(meta or {}),
        )

    def frames(self) -> dict[str, pd.DataFrame]:
        """The frames by name, in ``FRAME_NAMES`` order."""
        return {n: getattr(self, n) for n in FRAME_NAMES}

    def counts(self) -> dict[str, int]:
        """Rows per frame."""
        return {n: len(df) for n, df in self.frames().items()}

    def save(self, path: str | Path) -> Path:
        """Write ``<frame>.parquet`` for every frame and ``manifest.json`` (sha256, size, rows per file)."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        files: dict[str, dict[str, Any]] = {}
        for name, df in self.frames().items():
            target = out / f"{name}.parquet"
            _to_parquet(df, name, target)
            files[target.name] = {"sha256": _sha256(target), "size": target.stat().st_size, "rows": len(df)}
        from iamkit import __version__

        manifest = {
            "format": FORMAT,
            "iamkit_version": __version__,
            "saved": datetime.now(UTC).isoformat(),
            "meta": self.meta,
            "files": files,
        }
        tmp = out / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
        os.replace(tmp, out / MANIFEST)
        return out

    @classmethod
    def load(cls, path: str | Path) -> Inventory:
        """Read a snapshot folder, verifying every file against the manifest (BadInput names a mismatch)."""
        folder = Path(path)
        mpath = folder / MANIFEST
        if not mpath.is_file():
            raise BadInput(f"{folder} is not an inventory snapshot (no {MANIFEST})")
        try:
            manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as e:
            raise BadInput(f"{mpath}: not valid JSON ({e.msg})") from e
        if manifest.get("format") != FORMAT:
            raise BadInput(f"{mpath}: unknown snapshot format {manifest.get('format')!r}")
        loaded = {}
        for name in FRAME_NAMES:
            fname = f"{name}.parquet"
            entry = manifest.get("files", {}).get(fname)
            target = folder / fname
            if entry is None or not target.is_file():
                raise BadInput(f"snapshot {folder}: {fname} is missing")
            if _sha256(target) != entry["sha256"]:
                raise BadInput(f"snapshot {folder}: {fname} does not match its sha256 in {MANIFEST}")
            loaded[name] = _from_parquet(name, target)
        return cls(**loaded, meta=manifest.get("meta") or {})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_cols(name: str) -> list[str]:
    return [c for c, t in frames.SCHEMAS[name].items() if t == frames.J]


def _to_parquet(df: pd.DataFrame, name: str, target: Path) -> None:
    """JSON columns are stored as JSON text (null stays null)."""
    safe = df.copy()
    for c in _json_cols(name):
        safe[c] = safe[c].map(lambda v: None if v is None else json.dumps(v, default=str)).astype("string")
    safe.to_parquet(target, index=False)


def _from_parquet(name: str, target: Path) -> pd.DataFrame:
    import pandas as pd

    df = pd.read_parquet(target)
    for c in _json_cols(name):
        df[c] = df[c].astype(object).map(lambda v: None if v is None or v is pd.NA else json.loads(v))
    return frames.conform(df, name)


# ---------------------------------------------------------------- collection
PARTS = ("iam", "credentials", "resources", "posture", "identity_center")


def collect(
    ctx: AwsContext | None = None,
    *,
    profile: str | None = None,
    region: str | None = None,
    org: bool = False,
    accounts: Sequence[str] | None = None,
    role_name: str | None = None,
    external_id: str | None = None,
    session_name: str | None = None,
    regions: Sequence[str] | None = None,
    max_workers: int | None = None,
    hooks: Sequence[Hook] = (),
    service_last_accessed: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    parts: Sequence[str] | None = None,
) -> Inventory:
    """Collect an inventory: the caller's account, the listed ``accounts`` and/or (``org=True``) every
    active account of the organization, through ``role_name`` in each. Failures are ``errors`` rows.
    ``parts`` limits the collectors (``PARTS``: iam, credentials, resources, posture, identity_center; the
    organization's structure and SCPs come with ``org`` whatever ``parts`` says).

    ``max_workers=1`` runs serially (the bench baseline); default from settings (``IAMKIT_MAX_WORKERS``).
    """
    settings = config.load()
    workers = max_workers or settings.max_workers
    role_name = role_name or fanout.DEFAULT_ROLE
    if ctx is None:
        ctx = connect(profile, region, hooks=hooks)
    elif hooks:
        ctx.hooks.extend(h for h in hooks if h not in ctx.hooks)
        ctx._clients.clear()  # clients made before the new hooks would miss them
    if not ctx.account_id:
        ctx.whoami()
    log = ErrorLog(clock)
    started = (clock or (lambda: datetime.now(UTC)))()
    regions = list(regions or [ctx.region])
    rows: dict[str, list[dict[str, Any]]] = {}

    listed: list[dict[str, Any]] = []
    tasks: list[fanout.Task] = []
    if org:
        structure = organizations.collect(Scope(ctx, log))
        merge(rows, structure.rows)
        tasks += [fanout.Task(label, ctx.account_id, None, fn) for label, fn in structure.tasks]
        listed = [{"Id": a["account_id"], "Status": a["status"]} for a in rows.get("accounts", [])]
        if not listed:
            log.add(
                ctx.account_id,
                None,
                "organizations:ListAccounts",
                "NoOrganization",
                f"no organization accounts visible from {ctx.arn}; collecting the caller's account only",
            )
    if accounts:
        want = [str(a).strip() for a in accounts]
        bad = [a for a in want if not (len(a) == 12 and a.isdigit())]
        if bad:
            raise BadInput(f"not an AWS account id: {', '.join(bad)}")
        known = {a["Id"]: a for a in listed}
        listed = [known.get(a, {"Id": a, "Status": "ACTIVE"}) for a in want]
    if not listed:
        listed = [{"Id": ctx.account_id, "Status": "ACTIVE"}]
    known_accounts = {a["account_id"] for a in rows.get("accounts", [])}
    for a in listed:
        if a["Id"] not in known_accounts:
            rows.setdefault("accounts", []).append({"account_id": a["Id"], "status": a.get("Status")})

    contexts = fanout.assume_each(
        ctx,
        listed,
        role_name=role_name,
        external_id=external_id,
        session_name=session_name or "iamkit-inventory",
        log=log,
        max_workers=workers,
        progress=progress,
    )
    wanted = set(PARTS if parts is None else parts)
    if wanted - set(PARTS):
        raise BadInput(f"unknown inventory parts {sorted(wanted - set(PARTS))}; known: {', '.join(PARTS)}")
    if org and "identity_center" in wanted:
        tasks.append(
            fanout.Task(
                "identity_center",
                ctx.account_id,
                ctx.region,
                lambda: identity_center.collect(Scope(ctx, log), [a["Id"] for a in listed]),
            )
        )
    for acct, actx in contexts.items():

        def add(label: str, fn: Callable[[Scope], Any], region: str, acct: str = acct, actx: Any = actx) -> None:
            tasks.append(
                fanout.Task(f"{label} {acct} {region}", acct, region, lambda: fn(Scope(actx, log, region=region)))
            )

        home = regions[0]
        if "iam" in wanted:
            add("iam", iam.collect, home)
        if "credentials" in wanted:
            add("credentials", lambda s: credential_report.collect(s, service_last_accessed), home)
        for service, (fn, regional) in resources.SERVICES.items() if "resources" in wanted else ():
            for reg in regions if regional else [home]:
                add(service, fn, reg)
        for reg in regions if "posture" in wanted else ():
            add("posture", posture.collect, reg)
    for result in fanout.run(tasks, log=log, max_workers=workers, progress=progress):
        merge(rows, result)
    iam.apply_role_limits(rows)
    credential_report.add_missing_root_rows(rows)
    rows["errors"] = log.rows
    meta = {
        "source": "live",
        "caller_arn": ctx.arn,
        "caller_account_id": ctx.account_id,
        "org": org,
        "role_name": role_name,
        "session_name": session_name or "iamkit-inventory",
        "regions": regions,
        "accounts_requested": len(listed),
        "accounts_collected": len(contexts),
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "unsupported_operations": sorted(log.unsupported),
    }
    return Inventory.from_rows(rows, meta)


# ---------------------------------------------------------------- offline input


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector around bulk building (an authorization-details export into frames, an
    assessment): it makes many long-lived objects and almost no cycles, so the collector's passes over the
    growing heap cost a fifth of a small run and free nothing; reference counting still frees the rest. The
    previous state is restored after, and the objects built are handed to the oldest generation, where
    the collector's rare full passes see them like any long-lived data."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if not gc.get_freeze_count():
                # what the bulk built goes straight to the oldest generation (two list splices) instead of being
                # walked by the first young collection; skipped when the process froze objects of its own
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def from_authorization_details(paths: str | Path | Iterable[str | Path], account_id: str | None = None) -> Inventory:
    """Frames from ``aws iam get-account-authorization-details`` JSON files (one account each).

    A truncated file or one that is not that format raises ``BadInput`` naming the file.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = [Path(p) for p in paths]
    if not files:
        raise BadInput("no authorization-details file given")
    with collector_paused():
        return _from_authz_files(files, account_id)


def _from_authz_files(files: list[Path], account_id: str | None) -> Inventory:

    builder = AuthzBuilder()
    accounts: list[str] = []
    for path in files:
        doc = jsontext.read(path)
        if not looks_like_authz(doc):
            raise BadInput(
                f"{path}: not a get-account-authorization-details file (expected an object with "
                "UserDetailList, GroupDetailList, RoleDetailList and Policies lists)"
            )
        acct = account_id or account_of(doc) or "000000000000"
        accounts.append(acct)
        try:
            builder.add_page(acct, doc)
        except (KeyError, TypeError, AttributeError) as e:
            raise BadInput(f"{path}: malformed authorization-details entry ({type(e).__name__}: {e})") from e
    rows = builder.finish()
    now = datetime.now(UTC)
    rows["errors"] = [{**e, "when": now} for e in builder.errors]
    rows["accounts"] = [{"account_id": a} for a in dict.fromkeys(accounts)]
    return Inventory.from_rows(rows, {"source": "authorization-details", "files": [str(p) for p in files]})


# ---------------------------------------------------------------- drift


def _canon(value: Any) -> str:
    if value is None or (not isinstance(value, (list, dict, str)) and _isna(value)):
        return "null"
    return json.dumps(value, sort_keys=True, default=str)


def _isna(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _s(value: Any) -> str | None:
    return None if value is None or _isna(value) else str(value)


_PRINCIPAL_FIELDS = ("principal_id", "path", "permissions_boundary_arn", "max_session_duration", "groups", "tags")


def diff(old: Inventory, new: Inventory) -> pd.DataFrame:
    """What was added, removed or changed between two snapshots: principals, policies (documents and
    attachments), trusts, access keys and resource policies. Parts of an added/removed principal
    (its inline policies, attachments, trust) are folded into that one row."""
    out: list[dict[str, Any]] = []

    def row(kind: str, change: str, account: Any, key: Any, detail: str) -> None:
        out.append({"kind": kind, "change": change, "account_id": _s(account), "key": _s(key), "detail": detail})

    # principals
    def by_arn(df: pd.DataFrame) -> dict[str, dict]:
        return {r["arn"]: r for r in df.to_dict("records") if _s(r.get("arn"))}

    po, pn = by_arn(old.principals), by_arn(new.principals)
    gone, born = set(po) - set(pn), set(pn) - set(po)
    for arn in sorted(gone):
        row("principal", "removed", po[arn]["account_id"], arn, f"{po[arn]['principal_type']} removed")
    for arn in sorted(born):
        row("principal", "added", pn[arn]["account_id"], arn, f"{pn[arn]['principal_type']} added")
    for arn in sorted(set(po) & set(pn)):
        changed = [f for f in _PRINCIPAL_FIELDS if _canon(po[arn].get(f)) != _canon(pn[arn].get(f))]
        if changed:
            row("principal", "changed", pn[arn]["account_id"], arn, "changed: " + ", ".join(changed))
    folded = gone | born

    # trusts, grouped by role
    def trusts(df: pd.DataFrame) -> dict[str, tuple[str, set[str]]]:
        acc: dict[str, tuple[str, set[str]]] = {}
        for r in df.to_dict("records"):
            item = _canon(
                [
                    r.get("sid"),
                    r.get("effect"),
                    r.get("principal_type"),
                    r.get("principal"),
                    r.get("actions"),
                    r.get("conditions"),
                ]
            )
            acc.setdefault(r["role_arn"], (r["account_id"], set()))[1].add(item)
        return acc

    to, tn = trusts(old.trusts), trusts(new.trusts)
    for role in sorted((set(to) | set(tn)) - folded):
        a, b = to.get(role, (None, set())), tn.get(role, (None, set()))
        if a[1] != b[1]:
            gained = sorted(json.loads(x)[3] for x in b[1] - a[1])
            lost = sorted(json.loads(x)[3] for x in a[1] - b[1])
            detail = (
                "trust policy changed"
                + (f"; now trusts {', '.join(gained)}" if gained else "")
                + (f"; no longer trusts {', '.join(lost)}" if lost else "")
            )
            row(
                "trust",
                "changed" if role in to and role in tn else ("added" if role in tn else "removed"),
                b[0] or a[0],
                role,
                detail,
            )

    # policies: managed / scp / rcp by ARN, inline by (principal, name)
    def policies(df: pd.DataFrame) -> dict[tuple, dict[str, Any]]:
        acc: dict[tuple, dict[str, Any]] = {}
        for r in df.to_dict("records"):
            inline = r.get("policy_type") == "inline"
            key = ("inline", r["attached_to_arn"], r["policy_name"]) if inline else ("arn", r["policy_arn"])
            e = acc.setdefault(
                key,
                {
                    "account": r["account_id"],
                    "doc": None,
                    "version": None,
                    "targets": set(),
                    "type": r.get("policy_type"),
                },
            )
            if r.get("is_default") is True or inline:
                e["doc"], e["version"] = _canon(r.get("document")), _s(r.get("version_id"))
            if _s(r.get("attached_to_arn")) and not inline:
                e["targets"].add(r["attached_to_arn"])
        return acc

    lo, ln = policies(old.policies), policies(new.policies)
    for key in sorted(set(lo) | set(ln), key=str):
        a, b = lo.get(key), ln.get(key)
        if key[0] == "inline" and key[1] in folded:
            continue
        label = f"{key[1]} inline {key[2]}" if key[0] == "inline" else key[1]
        if a is None or b is None:
            e = b or a
            row(
                "policy",
                "added" if b else "removed",
                e["account"],
                label,
                f"{e['type']} policy " + ("added" if b else "removed"),
            )
            continue
        notes = []
        if a["doc"] != b["doc"]:
            notes.append(f"document changed ({a['version'] or '-'} -> {b['version'] or '-'})")
        ta, tb = a["targets"] - folded, b["targets"] - folded
        if tb - ta:
            notes.append("attached to " + ", ".join(sorted(tb - ta)))
        if ta - tb:
            notes.append("detached from " + ", ".join(sorted(ta - tb)))
        if notes:
            row("policy", "changed", b["account"], label, "; ".join(notes))

    # access keys
    ko = {r["access_key_id"]: r for r in old.access_keys.to_dict("records")}
    kn = {r["access_key_id"]: r for r in new.access_keys.to_dict("records")}
    for k in sorted(set(ko) | set(kn)):
        a, b = ko.get(k), kn.get(k)
        if a is None or b is None:
            e = b or a
            row(
                "access_key",
                "added" if b else "removed",
                e["account_id"],
                k,
                f"key of {e['user_arn']} " + ("added" if b else "removed"),
            )
        elif _s(a.get("status")) != _s(b.get("status")):
            row("access_key", "changed", b["account_id"], k, f"status {a.get('status')} -> {b.get('status')}")

    # resource policies
    def res(df: pd.DataFrame) -> dict[tuple, dict]:
        return {(r["resource_arn"], r["resource_type"]): r for r in df.to_dict("records")}

    ro, rn = res(old.resource_policies), res(new.resource_policies)
    for key in sorted(set(ro) | set(rn), key=str):
        a, b = ro.get(key), rn.get(key)
        if a is None or b is None:
            e = b or a
            row(
                "resource_policy",
                "added" if b else "removed",
                e["account_id"],
                key[0],
                f"{key[1]} " + ("added" if b else "removed"),
            )
            continue
        notes = [
            what
            for what, col in (("policy", "policy"), ("settings", "extra"))
            if _canon(a.get(col)) != _canon(b.get(col))
        ]
        if notes:
            row("resource_policy", "changed", b["account_id"], key[0], f"{key[1]} {' and '.join(notes)} changed")
    return frames.conform(out, "drift") if out else frames.empty("drift")
