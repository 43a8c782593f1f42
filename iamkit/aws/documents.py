"""Policy documents as IAM APIs return them (URL-encoded JSON text or dicts) into normalised rows.

Pure functions, no I/O: used by the live collectors and by the offline authorization-details loader.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from iamkit import jsontext
from iamkit.arn import principal_account
from iamkit.errors import PolicyError


def parse_document(doc: Any) -> dict[str, Any]:
    """A policy document as a dict: accepts a dict, JSON text or URL-encoded JSON text.

    Raises ``PolicyError`` naming the problem when the text is not a JSON object.
    """
    if isinstance(doc, dict):
        return doc
    if not isinstance(doc, str):
        raise PolicyError(f"policy document is a {type(doc).__name__}, not JSON text or an object")
    text = doc.strip()
    if text.startswith("%7B") or text.startswith("%7b") or "%22" in text[:40]:
        text = unquote(text)
    value = jsontext.parse(text, "policy document", error=PolicyError)
    if not isinstance(value, dict):
        raise PolicyError(f"policy document is a JSON {type(value).__name__}, not an object")
    return value


def _as_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _principal_map(value: Any) -> dict[str, list[str]] | None:
    """``"*"`` -> ``{"AWS": ["*"]}``; every value a list."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"AWS": [value]}
    if isinstance(value, dict):
        return {str(k): [str(v) for v in _as_list(vs) or []] for k, vs in value.items()}
    raise PolicyError(f"Principal must be a string or an object, got {type(value).__name__}")


def _conditions(value: Any) -> dict[str, dict[str, list[Any]]] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PolicyError(f"Condition must be an object, got {type(value).__name__}")
    out: dict[str, dict[str, list[Any]]] = {}
    for op, block in value.items():
        if not isinstance(block, dict):
            raise PolicyError(f"Condition operator {op!r} must map keys to values")
        out[str(op)] = {str(k): _as_list(v) or [] for k, v in block.items()}
    return out


def statements(doc: Any) -> list[dict[str, Any]]:
    """Normalised statements of a document: lists everywhere, principals as ``{type: [values]}``."""
    d = parse_document(doc)
    raw = d.get("Statement")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, st in enumerate(items):
        if not isinstance(st, dict):
            raise PolicyError(f"statement {i} is a {type(st).__name__}, not an object")
        out.append(
            {
                "statement_index": i,
                "sid": st.get("Sid"),
                "effect": st.get("Effect"),
                "actions": _as_list(st.get("Action")),
                "not_actions": _as_list(st.get("NotAction")),
                "resources": _as_list(st.get("Resource")),
                "not_resources": _as_list(st.get("NotResource")),
                "principals": _principal_map(st.get("Principal")),
                "not_principals": _principal_map(st.get("NotPrincipal")),
                "conditions": _conditions(st.get("Condition")),
            }
        )
    return out


def _has_key(conditions: dict | None, *keys: str) -> bool:
    wanted = {k.lower() for k in keys}
    return any(k.lower() in wanted for block in (conditions or {}).values() for k in block)


def _mfa_required(conditions: dict | None) -> bool:
    for op, block in (conditions or {}).items():
        for k, vals in block.items():
            key = k.lower()
            if key == "aws:multifactorauthage":
                return True
            if (
                key == "aws:multifactorauthpresent"
                and op.lower().startswith("bool")
                and [str(v).lower() for v in vals] == ["true"]
            ):
                return True
    return False


def trust_rows(account_id: str, role_arn: str, doc: Any) -> list[dict[str, Any]]:
    """One row per (trust statement, principal) of a role's assume-role policy."""
    rows = []
    for st in statements(doc):
        conds = st["conditions"]
        base = {
            "account_id": account_id,
            "role_arn": role_arn,
            "sid": st["sid"],
            "effect": st["effect"],
            "actions": st["actions"],
            "conditions": conds,
            "external_id_required": _has_key(conds, "sts:ExternalId"),
            "mfa_required": _mfa_required(conds),
        }
        principals = st["principals"] or {}
        if not principals and st["not_principals"]:
            principals = {f"Not{k}": v for k, v in st["not_principals"].items()}
        for ptype, values in principals.items():
            for value in values:
                rows.append(
                    {
                        **base,
                        "principal_type": ptype,
                        "principal": value,
                        "principal_account_id": principal_account(value),
                    }
                )
    return rows
