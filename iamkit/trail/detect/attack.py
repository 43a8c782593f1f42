"""The MITRE ATT&CK (Enterprise, IaaS) techniques iamkit's detections name: id -> name and tactics.

One table for the rule schema (a rule may only name a technique listed here), the OCSF ``attacks[]``
of a detection and the coverage table. Names and tactics as ATT&CK v15 spells them. Pure data.
"""

from __future__ import annotations

import re

#: technique (or sub-technique) id -> (name, tactics in kill-chain order)
TECHNIQUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "T1078": ("Valid Accounts", ("Defense Evasion", "Persistence", "Privilege Escalation", "Initial Access")),
    "T1078.004": (
        "Valid Accounts: Cloud Accounts",
        ("Defense Evasion", "Persistence", "Privilege Escalation", "Initial Access"),
    ),
    "T1098": ("Account Manipulation", ("Persistence", "Privilege Escalation")),
    "T1098.001": ("Account Manipulation: Additional Cloud Credentials", ("Persistence", "Privilege Escalation")),
    "T1098.003": ("Account Manipulation: Additional Cloud Roles", ("Persistence", "Privilege Escalation")),
    "T1098.004": ("Account Manipulation: SSH Authorized Keys", ("Persistence", "Privilege Escalation")),
    "T1484.002": (
        "Domain or Tenant Policy Modification: Trust Modification",
        ("Defense Evasion", "Privilege Escalation"),
    ),
    "T1525": ("Implant Internal Image", ("Persistence",)),
    "T1546": ("Event Triggered Execution", ("Privilege Escalation", "Persistence")),
    "T1550.001": (
        "Use Alternate Authentication Material: Application Access Token",
        ("Defense Evasion", "Lateral Movement"),
    ),
    "T1552": ("Unsecured Credentials", ("Credential Access",)),
    "T1552.005": ("Unsecured Credentials: Cloud Instance Metadata API", ("Credential Access",)),
    "T1555.006": ("Credentials from Password Stores: Cloud Secrets Management Stores", ("Credential Access",)),
    "T1562.001": ("Impair Defenses: Disable or Modify Tools", ("Defense Evasion",)),
    "T1562.008": ("Impair Defenses: Disable or Modify Cloud Logs", ("Defense Evasion",)),
    "T1666": ("Modify Cloud Resource Hierarchy", ("Defense Evasion",)),
    "T1580": ("Cloud Infrastructure Discovery", ("Discovery",)),
    "T1651": ("Cloud Administration Command", ("Execution",)),
    "T1059.009": ("Command and Scripting Interpreter: Cloud API", ("Execution",)),
    "T1537": ("Transfer Data to Cloud Account", ("Exfiltration",)),
    "T1530": ("Data from Cloud Storage", ("Collection",)),
    "T1496": ("Resource Hijacking", ("Impact",)),
    "T1485": ("Data Destruction", ("Impact",)),
}

#: tactic name -> ATT&CK tactic id
TACTICS: dict[str, str] = {
    "Initial Access": "TA0001",
    "Execution": "TA0002",
    "Persistence": "TA0003",
    "Privilege Escalation": "TA0004",
    "Defense Evasion": "TA0005",
    "Credential Access": "TA0006",
    "Discovery": "TA0007",
    "Lateral Movement": "TA0008",
    "Collection": "TA0009",
    "Exfiltration": "TA0010",
    "Impact": "TA0040",
}

_TAG = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.I)


def techniques_of(attack: list[str] | None, tags: list[str] | None) -> list[str]:
    """A rule's technique ids: its ``attack`` list, then the ``attack.tNNNN[.NNN]`` tags (Sigma style),
    upper-cased, in order, without repeats."""
    ids = [str(a).strip().upper() for a in attack or []]
    ids += [m.group(1).upper() for t in tags or [] if (m := _TAG.match(str(t).strip()))]
    return list(dict.fromkeys(ids))


def describe(technique: str) -> dict:
    """OCSF-style ``{"uid", "name", "tactics": [...]}`` for a technique id (name empty when not listed)."""
    name, tactics = TECHNIQUES.get(technique, ("", ()))
    return {"uid": technique, "name": name, "tactics": list(tactics)}


_TACTIC_ORDER = (
    "Credential Access",
    "Persistence",
    "Privilege Escalation",
    "Defense Evasion",
    "Discovery",
    "Execution",
    "Lateral Movement",
    "Initial Access",
    "Collection",
    "Exfiltration",
    "Impact",
)


def coverage(rules: list) -> dict[str, list[str]]:
    """Technique id -> ids of the ``rules`` (objects with ``id`` and ``techniques``) naming it, ordered by
    the technique's first tactic (credential access … impact), then id."""
    cov: dict[str, list[str]] = {}
    for r in rules:
        for t in r.techniques:
            cov.setdefault(t, []).append(r.id)

    def order(t: str) -> tuple[int, str]:
        tactics = TECHNIQUES.get(t, ("", ()))[1]
        return (min((_TACTIC_ORDER.index(x) for x in tactics if x in _TACTIC_ORDER), default=99), t)

    return {t: sorted(cov[t]) for t in sorted(cov, key=order)}


def coverage_table(rules: list) -> str:
    """The ATT&CK coverage of ``rules`` as a Markdown table (the README's detection section shows it)."""
    lines = ["| ATT&CK | technique | tactics | rules |", "|---|---|---|---|"]
    for t, ids in coverage(rules).items():
        name, tactics = TECHNIQUES.get(t, ("?", ()))
        lines.append(f"| {t} | {name} | {', '.join(tactics)} | {', '.join(f'`{i}`' for i in ids)} |")
    return "\n".join(lines)
