"""Which investigation steps each incident playbook's notebooks call: one ``Steps`` per playbook, so the four
notebooks (01 enrichment → 02 assessment → 03 remediation → 04 post-mortem) serve every subject instead of a
copy per playbook. The shared steps (case, CloudTrail load, reach, containment plan, post-mortem) live in
``access_key``, ``reach``, ``containment`` and ``postmortem``; a playbook names only what differs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iamkit.errors import BadInput


@dataclass(frozen=True)
class Steps:
    """The functions a playbook's notebooks call, each taking the case (``trace`` also the subject)."""

    playbook: str
    check: Callable[[dict[str, Any]], None]  # the parameters of a new case, before it is made
    trace: Callable[[Any, str], Any]  # 01: the subject's calls → facts
    context: Callable[[Any], Any]  # 01: who or what is behind it (owner, trust)
    assess: Callable[[Any], Any]  # 02: reach and detections
    plan_containment: Callable[[Any], Any]  # 03: the dry-run plan
    postmortem: Callable[[Any], Any]  # 04: summary and lessons


def _key() -> Steps:
    from iamkit.investigate import access_key as k

    return Steps(k.PLAYBOOK, k.check_key, k.trace_key, k.owner, k.assess, k.plan_containment, k.postmortem)


def _trust() -> Steps:
    from iamkit.investigate import trust as t
    from iamkit.investigate.postmortem import summarize_subject

    def postmortem(case):
        role = case.load_json("facts")["subject"]["id"]
        return summarize_subject(
            case, f"Cross-account trust exposure of {role}", t.EVENTS, {"trust-findings": "Trust findings on the role"}
        )

    return Steps(t.PLAYBOOK, t.check, t.trace, t.exposure, t.assess, t.plan_containment, postmortem)


def _principal(playbook: str, title: str, tables: dict[str, str] | None = None) -> Callable[[], Steps]:
    """The steps of a playbook whose subject is a principal (``iamkit.investigate.principal``)."""

    def make() -> Steps:
        from iamkit.investigate import principal as p
        from iamkit.investigate.postmortem import summarize_subject

        def postmortem(case):
            who = case.load_json("facts")["subject"]["id"]
            return summarize_subject(case, f"{title}: {who}", p.EVENTS, tables or {})

        return Steps(playbook, p.check, p.trace, p.context, p.assess, p.plan_containment, postmortem)

    return make


def _resource() -> Steps:
    from iamkit.investigate import resource as r
    from iamkit.investigate.postmortem import summarize_subject

    def postmortem(case):
        arn = case.load_json("facts")["subject"]["id"]
        return summarize_subject(
            case, f"Resource exposure of {arn}", r.EVENTS, {"exposure-findings": "Exposure findings on the resource"}
        )

    return Steps("resource-exposure", r.check, r.trace, r.exposure, r.assess, r.plan_containment, postmortem)


def _person() -> Steps:
    from iamkit.investigate import person as p
    from iamkit.investigate.postmortem import summarize_subject

    def postmortem(case):
        upn = case.load_json("facts")["subject"]["id"]
        return summarize_subject(
            case,
            f"Compromised Entra user reaching AWS: {upn}",
            p.EVENTS,
            {p.SIGNINS: "Entra sign-ins of the person", p.SESSIONS: "AWS sessions of the person"},
        )

    return Steps("compromised-entra-user", p.check, p.trace, p.context, p.assess, p.plan_containment, postmortem)


REGISTRY: dict[str, Callable[[], Steps]] = {
    "compromised-access-key": _key,
    "cross-account-trust-exposure": _trust,
    "logging-tampering": _principal("logging-tampering", "Logging or guardrail tampering"),
    "root-activity": _principal("root-activity", "Root account activity"),
    "privilege-escalation": _principal("privilege-escalation", "Risky policy change or privilege escalation"),
    "suspicious-role-session": _principal("suspicious-role-session", "Suspicious role session"),
    "resource-exposure": _resource,
    "compromised-entra-user": _person,
}


def get(playbook: str) -> Steps:
    """The steps of ``playbook`` (``BadInput`` naming the known ones for any other)."""
    make = REGISTRY.get(str(playbook or ""))
    if make is None:
        raise BadInput(f"no investigation steps for playbook {playbook!r}; known: {', '.join(REGISTRY)}")
    return make()
