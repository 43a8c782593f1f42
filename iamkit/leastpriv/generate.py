"""A candidate least-privilege policy from a principal's usage: grouped by service, resources generalised only as
far as needed, split to IAM's size limit, validated, each statement with the events that justified it.

Generalisation (``max_resources``, default 10): while an action used more distinct resources than that, the
resources of one account, region and resource type are replaced by their longest common prefix up to a ``/`` or
``:`` boundary plus ``*`` (``…:key/*``, ``arn:aws:s3:::bucket/data/2026/*``); ``max_resources=0`` never
generalises. ``*`` appears only for actions without a resource type or whose resource no call named (the
statement's ``why`` says which).
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.leastpriv.usage import Usage

#: IAM's limit for a customer managed policy (characters, whitespace not counted)
MANAGED_LIMIT = 6144
#: IAM's limit for a role's inline policies, all of them together (characters, whitespace not counted)
INLINE_ROLE_LIMIT = 10240
#: managed policies attachable to a role or user by default
MAX_ATTACHED = 10
#: event ids kept per statement as its rationale (the count says how many there were)
RATIONALE_IDS = 5


@dataclass
class StatementInfo:
    """One statement of the candidate with its rationale."""

    sid: str
    service: str
    actions: list[str]
    resources: list[str]
    events: int
    event_ids: list[str]
    why: list[str] = field(default_factory=list)
    document: int = 0

    def to_statement(self) -> dict[str, Any]:
        return {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": self.actions[0] if len(self.actions) == 1 else self.actions,
            "Resource": self.resources[0] if len(self.resources) == 1 else self.resources,
        }


@dataclass
class Candidate:
    """The candidate policy: ``documents`` (one or more policy documents within ``limit``), ``statements``
    (with rationale), validation ``findings`` and notes."""

    documents: list[dict[str, Any]]
    statements: list[StatementInfo]
    findings: list[dict[str, Any]]
    notes: list[str]
    limit: int = MANAGED_LIMIT

    @property
    def actions(self) -> list[str]:
        return sorted({a for s in self.statements for a in s.actions})

    @property
    def size(self) -> int:
        return sum(policy_size(d) for d in self.documents)

    @property
    def valid(self) -> bool:
        return not any(f["severity"] == "error" for f in self.findings)

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "document": s.document,
                    "sid": s.sid,
                    "service": s.service,
                    "actions": ", ".join(s.actions),
                    "resources": ", ".join(s.resources),
                    "events": s.events,
                    "event_ids": ", ".join(s.event_ids),
                    "why": "; ".join(s.why),
                }
                for s in self.statements
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "size": self.size,
            "limit": self.limit,
            "valid": self.valid,
            "findings": self.findings,
            "notes": self.notes,
            "statements": [
                {
                    "document": s.document,
                    "sid": s.sid,
                    "service": s.service,
                    "actions": s.actions,
                    "resources": s.resources,
                    "events": s.events,
                    "event_ids": s.event_ids,
                    "why": s.why,
                }
                for s in self.statements
            ],
        }


def policy_size(doc: dict[str, Any]) -> int:
    """A document's size as IAM counts it: its JSON without whitespace."""
    return len(re.sub(r"\s+", "", json.dumps(doc, separators=(",", ":"))))


def _boundary_prefix(values: list[str]) -> str:
    """Longest common prefix of ``values`` cut back to a ``/`` or ``:`` boundary."""
    prefix = os.path.commonprefix(values)
    cut = max(prefix.rfind("/"), prefix.rfind(":"))
    return prefix[: cut + 1]


def _group_key(resource: str) -> str:
    """Resources generalise together within one partition, service, region, account and resource type."""
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return resource
    head = re.split(r"[:/]", parts[5], maxsplit=1)[0]
    if parts[2] == "s3":  # a bucket's objects generalise within the bucket
        head = parts[5].split("/", 1)[0]
    return ":".join(parts[:5]) + ":" + head


def generalise(resources: set[str], max_resources: int) -> tuple[list[str], str]:
    """At most ``max_resources`` patterns covering ``resources`` (exact ARNs when few enough), and a note."""
    exact = sorted(resources)
    if "*" in resources:
        return ["*"], ""
    if max_resources <= 0 or len(exact) <= max_resources:
        return exact, ""
    groups: dict[str, list[str]] = defaultdict(list)
    for r in exact:
        groups[_group_key(r)].append(r)
    out: list[str] = []
    for key in sorted(groups, key=lambda k: -len(groups[k])):
        members = groups[key]
        if len(members) == 1:
            out.append(members[0])
            continue
        prefix = _boundary_prefix(members)
        out.append(
            prefix + "*" if len(prefix) > len(key.split(":", 5)[-1]) and prefix.startswith("arn:") else key + "*"
        )
    out = sorted(set(out))
    return out, f"{len(exact)} resources generalised to {len(out)} pattern(s) (max_resources={max_resources})"


def _sid(service: str, n: int) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", service.title()) + str(n)


def candidate(usage: Usage, *, max_resources: int = 10, limit: int = MANAGED_LIMIT) -> Candidate:
    """The candidate policy for a usage (``max_resources``: see the module; ``limit``: size of one document)."""
    from iamkit.leastpriv.usage import _value
    from iamkit.policy import validate

    if limit < 512:
        raise BadInput(f"policy size limit {limit} is too small (IAM's managed limit is {MANAGED_LIMIT})")
    uses = usage.uses
    notes: list[str] = []
    by_action: dict[str, dict[str, Any]] = {}
    for raw in uses.to_dict(orient="records"):
        row = {k: _value(v) for k, v in raw.items()}
        a = by_action.setdefault(row["action"], {"known": set(), "unknown": [], "ids": [], "events": 0, "why": set()})
        a["events"] += 1
        if len(a["ids"]) < RATIONALE_IDS and row["event_id"] not in a["ids"]:
            a["ids"].append(str(row["event_id"]))
        if row["resource"] != "*":
            a["known"].add(row["resource"])
        else:
            a["unknown"].append(row.get("note") or "")
        if row.get("companion_of"):
            a["why"].add(f"needed by {row['companion_of']}")
        if row.get("via"):
            a["why"].add(f"called through {row['via']}")
    # per action: its resource patterns, then statements per (service, resource patterns)
    grouped: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    for action, a in sorted(by_action.items()):
        why = set(a["why"])
        if a["known"]:
            resources, note = generalise(a["known"], max_resources)
            if note:
                why.add(note)
            if a["unknown"]:
                why.add(f"{len(a['unknown'])} call(s) named no resource (replayed as 'on some resource')")
        else:
            resources = ["*"]
            why.add(sorted(set(a["unknown"]))[0] or "the ARN cannot be known")
        key = (action.split(":", 1)[0], tuple(resources))
        g = grouped.setdefault(key, {"actions": [], "events": 0, "ids": [], "why": set()})
        g["actions"].append(action)
        g["events"] += a["events"]
        g["ids"] += [i for i in a["ids"] if i not in g["ids"]][: max(0, RATIONALE_IDS - len(g["ids"]))]
        g["why"] |= {f"{action}: {w}" for w in why}
    per_service: dict[str, int] = defaultdict(int)
    statements: list[StatementInfo] = []
    for (service, resources), g in sorted(grouped.items()):
        per_service[service] += 1
        statements.append(
            StatementInfo(
                _sid(service, per_service[service]),
                service,
                sorted(g["actions"]),
                list(resources),
                g["events"],
                g["ids"],
                sorted(g["why"]),
            )
        )
    documents = _pack(statements, limit, notes)
    if len(documents) > MAX_ATTACHED:
        notes.append(
            f"{len(documents)} documents: more than the {MAX_ATTACHED} managed policies a principal may "
            "have attached by default (raise max generalisation or the quota)"
        )
    findings: list[dict[str, Any]] = []
    for i, doc in enumerate(documents):
        for f in validate(doc, "identity"):
            findings.append({"document": i, **f.to_dict()})
    if not statements:
        notes.append("no used action: the candidate grants nothing")
    return Candidate(documents, statements, findings, notes, limit)


def _fitting(statements: list[StatementInfo], room: int) -> list[StatementInfo]:
    """Statements of at most ``room`` characters: one too big is cut into several over parts of its resources."""
    out: list[StatementInfo] = []
    for st in statements:
        if policy_size(st.to_statement()) <= room:
            out.append(st)
            continue
        parts: list[list[str]] = [[]]
        for r in st.resources:
            trial = StatementInfo(st.sid + "P99", st.service, st.actions, [*parts[-1], r], 0, [])
            if parts[-1] and policy_size(trial.to_statement()) > room:
                parts.append([r])
            else:
                parts[-1].append(r)
        for i, res in enumerate(parts, 1):
            part = StatementInfo(f"{st.sid}P{i}", st.service, st.actions, res, st.events, st.event_ids, st.why)
            if policy_size(part.to_statement()) > room:
                raise BadInput(
                    f"statement {st.sid} cannot fit the {room}-character limit even with one resource: raise the limit"
                )
            out.append(part)
    return out


def _pack(statements: list[StatementInfo], limit: int, notes: list[str]) -> list[dict[str, Any]]:
    """Statements into as few documents of at most ``limit`` characters as first-fit allows (in order)."""
    docs: list[list[StatementInfo]] = []
    empty = policy_size({"Version": "2012-10-17", "Statement": []})
    sizes: list[int] = []
    for st in _fitting(statements, limit - empty - 1):
        s = policy_size(st.to_statement()) + 1
        for i, used in enumerate(sizes):
            if used + s <= limit:
                docs[i].append(st)
                sizes[i] += s
                break
        else:
            docs.append([st])
            sizes.append(empty + s)
    out = []
    for i, group in enumerate(docs):
        for st in group:
            st.document = i
        out.append({"Version": "2012-10-17", "Statement": [st.to_statement() for st in group]})
    if len(out) > 1:
        notes.append(f"split into {len(out)} documents of at most {limit} characters each")
    return out
