"""The one severity vocabulary: ``critical|high|medium|low|info``, its order, its OCSF ids, and ``--fail-on``.

Findings (``iamkit assess``) and detections (``iamkit trail hunt``) use ``LEVELS``; policy validation keeps
IAM Access Analyzer's own scale (``error|security_warning|warning|suggestion``) and passes it as ``scale``.
Every scale is listed worst first. Stdlib only: imported by every layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from iamkit.errors import BadInput

CRITICAL, HIGH, MEDIUM, LOW, INFO = "critical", "high", "medium", "low", "info"
LEVELS: tuple[str, ...] = (CRITICAL, HIGH, MEDIUM, LOW, INFO)  # worst first
RANK: dict[str, int] = {s: i for i, s in enumerate(LEVELS)}  # 0 = worst; unknown values sort after info

# OCSF 1.1 severity_id / severity (the ids run the other way: 1 informational … 5 critical)
OCSF_ID: dict[str, int] = {INFO: 1, LOW: 2, MEDIUM: 3, HIGH: 4, CRITICAL: 5}
OCSF_NAME: dict[int, str] = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}

# how reports and figures colour each level (one palette everywhere a severity is shown)
COLORS: dict[str, str] = {CRITICAL: "#b00020", HIGH: "#d9480f", MEDIUM: "#b7791f", LOW: "#2f855a", INFO: "#5a6576"}

# policy validation's scale (IAM Access Analyzer's finding types), worst first
VALIDATION: tuple[str, ...] = ("error", "security_warning", "warning", "suggestion")

# other spellings met in rule files: Sigma's ``informational``, OCSF's names
_ALIASES = {"informational": INFO}


def normalize(value: object, scale: Sequence[str] = LEVELS) -> str | None:
    """``value`` as a level of ``scale`` (case and surrounding blanks ignored; ``informational`` is
    ``info``), or None when it is not one."""
    if not isinstance(value, str):
        return None
    v = value.strip().lower()
    if v not in scale and _ALIASES.get(v) in scale:
        v = _ALIASES[v]
    return v if v in scale else None


def parse(value: str, *, flag: str = "--fail-on", scale: Sequence[str] = LEVELS) -> str:
    """A level given by a user; a one-line ``BadInput`` naming ``flag`` and the choices otherwise."""
    level = normalize(value, scale)
    if level is None:
        raise BadInput(f"{flag} {value!r}: use one of {'|'.join(scale)}")
    return level


def rank(value: object, scale: Sequence[str] = LEVELS) -> int:
    """Position in ``scale`` (0 = worst); anything unknown ranks after the mildest level."""
    level = normalize(value, scale)
    return scale.index(level) if level is not None else len(scale)


def at_or_above(threshold: str, severities: Iterable[object], scale: Sequence[str] = LEVELS) -> int:
    """How many of ``severities`` are ``threshold`` or worse (unknown values never count)."""
    limit = scale.index(parse(threshold, scale=scale))
    return sum(1 for s in severities if rank(s, scale) <= limit)


def exceeds(threshold: str | None, severities: Iterable[object], scale: Sequence[str] = LEVELS) -> bool:
    """The ``--fail-on`` check: True when a severity is ``threshold`` or worse (False without a threshold)."""
    return bool(threshold) and at_or_above(threshold, severities, scale) > 0


def ocsf_id(value: object) -> int:
    """OCSF ``severity_id`` of a level (an unknown one is 1, Informational)."""
    level = normalize(value)
    return OCSF_ID[level] if level is not None else 1


def ocsf_name(value: object) -> str:
    """OCSF ``severity`` caption of a level."""
    return OCSF_NAME[ocsf_id(value)]
