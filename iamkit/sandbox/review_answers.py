"""Answer keys of the scheduled reviews on the seeded organization, from what the sandbox seeded (``SeededOrg``)
— never by running iamkit's analysis — so a test comparing a review's facts (``evidence/review.json``) with a
key checks the review.

- inventory: the seeded counts (``SeededOrg.counts``), over every account;
- external access: the resources seeded open to anyone or to an outside account, and the roles seeded to
  trust ``*`` or an account outside the organization (the safe look-alikes are in neither);
- key hygiene: the seeded active keys whose age or idle time, by construction, exceeds 90 days;
- AssumeRole hunt: the scripted incident's AssumeRole (the leaked key, from the attacker's new IP) must be
  found (at least this one: the benign CI noise may also stand out, as it would in a real organization).

Pure: no boto3, no moto.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from iamkit.sandbox.model import SeededOrg

STALE_DAYS = 90
EXPOSED_KINDS = ("public-bucket", "open-kms-key", "cross-account-secret")
EXTERNAL_TRUST_KINDS = ("star-trust", "star-trust-conditional", "third-party-trust", "cross-account-no-external-id")
COUNTED = ("users", "roles", "groups", "access_keys")


def _t(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def inventory(org: SeededOrg) -> dict[str, Any]:
    """Totals over every account of what was seeded."""
    per = (org.counts or {}).get("per_account") or {}
    counts = {k: sum(int(c.get(k, 0)) for c in per.values()) for k in COUNTED}
    counts["resource_policies"] = sum(1 for r in org.resources if r.policy)
    return {"counts": {"accounts": len(org.accounts), **counts}}


def external_access(org: SeededOrg) -> dict[str, Any]:
    return {
        "exposed_resources": sorted({r.arn for r in org.risks if r.kind in EXPOSED_KINDS and not r.safe}),
        "external_roles": sorted({r.arn for r in org.risks if r.kind in EXTERNAL_TRUST_KINDS and not r.safe}),
    }


def key_hygiene(org: SeededOrg, now: dt.datetime) -> dict[str, Any]:
    """Active keys created more than 90 days before ``now``, or not used for 90 days (never used counts from
    creation), by their seeded dates."""
    stale = []
    limit = dt.timedelta(days=STALE_DAYS)
    for u in org.users:
        for k in u.access_keys:
            created, used = _t(k.created), _t(k.last_used)
            if k.status != "Active" or created is None:
                continue
            if now - created > limit or now - (used or created) > limit:
                stale.append(k.access_key_id)
    return {"stale_keys": sorted(stale), "planned": sorted(stale), "applied": False}


def assume_role_hunt(org: SeededOrg) -> dict[str, Any]:
    """What the hunt must find over a window holding the incident (the variants whose leaked key has history)."""
    inc = org.incident
    if inc is None or inc.variant == "console":
        return {"must_find": []}
    return {
        "must_find": [
            {
                "detection_id": "iamkit-assume-role-new-source-ip",
                "principal_arn": inc.user_arn,
                "access_key_id": inc.leaked_access_key_id,
            }
        ],
        "window_start": inc.start,
        "window_end": inc.end,
    }


def review_answer_keys(org: SeededOrg, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Review playbook id → its answer key."""
    return {
        "review-inventory": inventory(org),
        "review-external-access": external_access(org),
        "review-key-hygiene": key_hygiene(org, now),
        "review-assume-role-hunt": assume_role_hunt(org),
    }
