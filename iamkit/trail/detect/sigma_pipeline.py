"""The pySigma processing pipeline for CloudTrail rules: Sigma field names onto iamkit's ``events`` columns.

The field map is the column table's (``iamkit.trail.columns.sigma_fields``), not a second one: a top-level
record field with a column maps to that column (``eventName`` -> ``event_name``), a ``userIdentity.*`` path
with a column to that column, a path inside a subtree kept whole to ``<json column>.<path>``
(``requestParameters.userName`` -> ``request_parameters.userName``). Field names match without case, as the
old compiler did. A field the store does not keep maps to ``?<name>``: the backend treats it as absent and
says so. ``|expand`` placeholders are filled from the pipeline's variables (``placeholders``); one without a
value fails the rule with its name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sigma.exceptions import SigmaValueError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.base import FieldMappingTransformationBase
from sigma.processing.transformations.placeholder import ValueListPlaceholderTransformation
from sigma.types import Placeholder, SigmaString

from iamkit.trail import columns

SCALAR_FIELDS, IDENTITY_FIELDS, JSON_ROOTS = columns.sigma_fields()
#: the JSON columns a mapped name may start with (``request_parameters.x``)
JSON_COLUMNS = frozenset(JSON_ROOTS.values())
#: the mark of a field the store does not have
UNKNOWN = "?"


def column_ref(field: str) -> str | None:
    """The iamkit name of a CloudTrail (Sigma) field: a column, ``<json column>.<path>``, or None."""
    parts = field.split(".")
    head = parts[0].lower()
    if len(parts) == 1 and head in SCALAR_FIELDS:
        return SCALAR_FIELDS[head]
    if head == "useridentity" and ".".join(parts[1:]).lower() in IDENTITY_FIELDS:
        return IDENTITY_FIELDS[".".join(parts[1:]).lower()]
    if head in JSON_ROOTS:
        return ".".join([JSON_ROOTS[head], *parts[1:]])
    return None


def is_mapped(name: str) -> bool:
    """A name the pipeline produced (a column or a JSON column path), not a CloudTrail field name."""
    return name in columns.BY_NAME or name.split(".")[0] in JSON_COLUMNS


@dataclass
class PlaceholderValues(ValueListPlaceholderTransformation):
    """``|expand`` placeholders from the pipeline's variables; one without a value fails the rule, naming it."""

    def placeholder_replacements(self, p: Placeholder) -> Iterable[SigmaString]:
        if self._pipeline is None or p.name not in self._pipeline.vars:
            raise SigmaValueError(
                f"|expand placeholder %{p.name}% has no value (give it as placeholders={{'{p.name}': [...]}})"
            )
        return super().placeholder_replacements(p)


@dataclass
class CloudTrailFieldMapping(FieldMappingTransformationBase):
    """Sigma CloudTrail field names -> iamkit column names (unknown fields marked ``?name``)."""

    def apply_field_name(self, field: str | None) -> str | None:
        if field is None or field.startswith(UNKNOWN) or is_mapped(field):
            return None  # keyword, or already mapped (a field reference seen twice)
        return column_ref(field) or UNKNOWN + field


def pipeline(placeholders: dict[str, Any] | None = None) -> ProcessingPipeline:
    """The CloudTrail pipeline; ``placeholders`` gives the values of ``|expand`` placeholders by name."""
    return ProcessingPipeline(
        name="CloudTrail fields onto the events columns",
        priority=20,
        items=[
            ProcessingItem(identifier="iamkit_placeholders", transformation=PlaceholderValues()),
            ProcessingItem(identifier="iamkit_cloudtrail_fields", transformation=CloudTrailFieldMapping()),
        ],
        vars=dict(placeholders or {}),
    )
