"""Evaluate a statement's ``Condition`` block like IAM: every operator family, IfExists, Null, set qualifiers.

All operators AND together, all keys within an operator AND, the values listed for a key OR (for negated
operators: NOR). Context keys are matched ignoring case. A condition block is compiled once (cached by its
content) so evaluation is a few dict lookups and cached predicates; callers holding a block for long should keep
its :class:`CompiledConditions` (``compile_conditions``) and call ``evaluate`` on it.

``mode="discovery"``: a key absent from the context decides nothing; the outcome is ``matched=None`` with the
keys that would decide, unless an ``…IfExists`` or ``Null`` operator defines the absent case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from iamkit.errors import PolicyError
from iamkit.policy.conditions import arn, binary, boolean, date, ip, null, numeric, string
from iamkit.policy.conditions.base import InvalidPolicyValue, Operator, Predicate, never
from iamkit.policy.conditions.setops import (
    ALL,
    ANY,
    MULTI_VALUED,
    absent_result,
    combine,
    parse_operator,
    values_of,
)
from iamkit.policy.matching import unescape_glob
from iamkit.policy.variables import RequestContext, VariableError, as_context, referenced_keys, substitute

__all__ = [
    "CompiledCondition",
    "CompiledConditions",
    "ConditionOutcome",
    "compile_condition",
    "compile_conditions",
    "evaluate_conditions",
    "known_operator",
    "operator_family",
]

OPERATORS: dict[str, Operator] = {
    **string.OPERATORS,
    **numeric.OPERATORS,
    **date.OPERATORS,
    **boolean.OPERATORS,
    **binary.OPERATORS,
    **ip.OPERATORS,
    **arn.OPERATORS,
}
_NULL = null.NAME.lower()


@dataclass
class ConditionOutcome:
    """Result of a Condition block: matched (None only in discovery when unknown keys decide), why, and errors."""

    matched: bool | None
    unknown_keys: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # invalid policy values / variables met while evaluating
    # discovery: the (operator, key, values) entries left undecided, whose AND would make the block match
    unknown_conditions: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)


def known_operator(name: str) -> bool:
    """Whether ``name`` is a condition operator IAM accepts (base + IfExists + ForAnyValue:/ForAllValues:)."""
    if not isinstance(name, str):
        return False
    parsed = parse_operator(name)
    if parsed.qualifier not in (None, ANY, ALL):
        return False
    if parsed.base == _NULL:
        return not parsed.if_exists
    return parsed.base in OPERATORS


def operator_family(name: str) -> str:
    """Family of an operator name: string|numeric|date|bool|binary|ip|arn|null; PolicyError when unknown."""
    if not known_operator(name):
        raise PolicyError(f"unknown condition operator {name!r}")
    parsed = parse_operator(name)
    return "null" if parsed.base == _NULL else OPERATORS[parsed.base].family


def _policy_values(raw: Any) -> tuple[str, ...]:
    """Policy values as text, as IAM holds them (JSON ``true`` is ``"true"``, ``10`` is ``"10"``).

    Text only also keeps the predicate caches exact: ``(1,)`` and ``(True,)`` are equal tuples to Python.
    """
    values = raw if isinstance(raw, list | tuple) else [raw]
    texts = []
    for v in values:
        if isinstance(v, bool):
            texts.append("true" if v else "false")
        elif isinstance(v, str | int | float):
            texts.append(str(v))
        else:
            raise InvalidPolicyValue(f"{v!r} is not a string, number or boolean")
    return tuple(texts)


@dataclass(slots=True)
class CompiledCondition:
    """One (operator, key) pair of a Condition block, with its policy values parsed once."""

    op_text: str
    key: str
    key_lower: str
    qualifier: str | None
    if_exists: bool
    operator: Operator | None  # None for Null
    values: tuple[str, ...]
    var_keys: tuple[str, ...]  # context keys the values' policy variables refer to, as written
    pred: Predicate | frozenset[bool] | None  # ready predicate (or Null's wanted set) when no variables
    error: str | None  # why the policy values are unusable (the condition then never matches)
    label: str = ""  # "Operator key values", the start of its detail line


def compile_condition(op_text: str, key: str, raw: Any, *, variables: bool = True) -> CompiledCondition:
    """Compile one (operator, key, values) entry; its ``error`` says why the values are unusable (for validators).

    Raises PolicyError for an unknown operator.
    """
    return _compile_one(op_text, key, raw, variables)


def _compile_one(op_text: str, key: str, raw: Any, variables: bool = True) -> CompiledCondition:
    parsed = parse_operator(op_text)
    if not known_operator(op_text):
        raise PolicyError(f"unknown condition operator {op_text!r}")
    is_null = parsed.base == _NULL
    operator = None if is_null else OPERATORS[parsed.base]
    qualifier = None if is_null else parsed.qualifier
    cond = CompiledCondition(op_text, key, key.lower(), qualifier, parsed.if_exists, operator, (), (), None, None)
    try:
        cond.values = _policy_values(raw)
        if not cond.values:
            raise InvalidPolicyValue("no values")
        if is_null:
            cond.pred = null.prepare_null(cond.values)
            return cond
        if variables and operator.variables:
            keys: list[str] = []
            for v in cond.values:
                keys.extend(referenced_keys(v, keep_case=True))
                substitute(v, {}, for_glob=False)  # raises VariableError when malformed
            cond.var_keys = tuple(dict.fromkeys(keys))
            if any("${" in v for v in cond.values):
                return cond
        cond.pred = operator.prepare(cond.values)
    except (InvalidPolicyValue, VariableError) as exc:
        cond.error = f"invalid value for {op_text} {key}: {exc}"
    return cond


@dataclass(slots=True)
class CompiledConditions:
    """A whole Condition block compiled; ``evaluate(context, mode)`` decides it."""

    conditions: tuple[CompiledCondition, ...]

    def evaluate(
        self, context: Mapping[str, Any] | None, *, mode: str = "strict", explain: bool = True
    ) -> ConditionOutcome:
        """Decide the block against a request context (see :func:`evaluate_conditions`)."""
        return _evaluate(self, context, mode, explain)


_CACHE: dict[Any, CompiledConditions] = {}
_CACHE_MAX = 16384


def _fingerprint(block: Mapping[str, Any]) -> tuple | None:
    """A hashable copy of a Condition block's content (types kept, so ``1`` and ``True`` differ); None if odd."""
    items = []
    for op, keys in block.items():
        if not isinstance(keys, Mapping):
            return None
        entries = []
        for key, raw in keys.items():
            if type(raw) is str:
                entries.append((key, raw))
            elif isinstance(raw, list | tuple):
                if not all(isinstance(v, str | bool | int | float) for v in raw):
                    return None
                entries.append((key, tuple((type(v).__name__, v) for v in raw)))
            elif isinstance(raw, bool | int | float):
                entries.append((key, (type(raw).__name__, raw), None))
            else:
                return None
        items.append((op, tuple(entries)))
    return tuple(items)


def compile_conditions(block: Mapping[str, Mapping[str, Any]] | None, *, variables: bool = True) -> CompiledConditions:
    """Compile a statement's Condition object; PolicyError for an unknown operator or a malformed block.

    Compiled blocks are cached by content, so evaluating the same block again costs one hash.
    ``variables=False`` keeps ``${…}`` as literal text (policies with Version 2008-10-17 or none).
    """
    if isinstance(block, CompiledConditions):
        return block
    if block is None:
        return CompiledConditions(())
    if not isinstance(block, Mapping):
        raise PolicyError(f"Condition must be an object of operators, got {type(block).__name__}")
    fingerprint = _fingerprint(block)
    cache_key = (fingerprint, variables) if fingerprint is not None else None
    if cache_key is not None:
        hit = _CACHE.get(cache_key)
        if hit is not None:
            return hit
    compiled = []
    for op_text, keys in block.items():
        if not isinstance(keys, Mapping):
            raise PolicyError(f"Condition operator {op_text!r} must map condition keys to values")
        for key, raw in keys.items():
            compiled.append(_compile_one(str(op_text), str(key), raw, variables))
    for cond in compiled:
        cond.label = f"{cond.op_text} {cond.key} {_show(cond.values)}"
    result = CompiledConditions(tuple(compiled))
    if cache_key is not None:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[cache_key] = result
    return result


def evaluate_conditions(
    block: Mapping[str, Mapping[str, Any]] | CompiledConditions | None,
    context: Mapping[str, Any] | None,
    *,
    mode: str = "strict",
    explain: bool = True,
    variables: bool = True,
) -> ConditionOutcome:
    """Decide a statement's Condition block against the request context.

    ``mode="discovery"`` reports keys missing from the context instead of deciding with them; ``explain=False``
    skips building detail lines (faster; errors are still listed); ``variables=False`` treats ``${…}`` literally
    (policy Version 2008-10-17). Pass a :class:`RequestContext` (``as_context``) to skip re-keying the context.
    """
    return _evaluate(compile_conditions(block, variables=variables), context, mode, explain)


def _show(values: Any) -> str:
    if isinstance(values, list | tuple) and len(values) == 1:
        values = values[0]
    if isinstance(values, str):
        return repr(unescape_glob(values))
    if isinstance(values, list | tuple):
        return "[" + ", ".join(_show(v) for v in values) + "]"
    return repr(values)


_WORD = {True: "true", False: "false", None: "unknown"}


def _evaluate(
    compiled: CompiledConditions, context: Mapping[str, Any] | None, mode: str, explain: bool
) -> ConditionOutcome:
    if mode != "strict" and mode != "discovery":
        raise PolicyError(f"unknown evaluation mode {mode!r} (expected strict or discovery)")
    outcome = ConditionOutcome(True)
    if not compiled.conditions:
        return outcome
    ctx = context if type(context) is RequestContext else as_context(context)
    discovery = mode == "discovery"
    unknown: list[str] = []
    decided_false = False
    for cond in compiled.conditions:
        result, why = _decide(cond, ctx, discovery, unknown, outcome, explain)
        if explain:
            outcome.details.append(f"{cond.label}: {why} -> {_WORD[result]}")
        if result is False:
            decided_false = True  # keep going: every condition's errors are reported, explain or not
        elif result is None:
            outcome.unknown_conditions.append((cond.op_text, cond.key, cond.values))
    if decided_false:
        outcome.matched = False
    elif unknown:
        outcome.matched = None
        outcome.unknown_keys = list(dict.fromkeys(unknown))
    return outcome


def _decide(
    cond: CompiledCondition,
    ctx: Mapping[str, Any],
    discovery: bool,
    unknown: list[str],
    outcome: ConditionOutcome,
    explain: bool,
) -> tuple[bool | None, str]:
    """One (operator, key): the three-valued result and (when explaining) a short reason."""
    if cond.error is not None:
        outcome.errors.append(cond.error)
        return False, cond.error
    raw = ctx.get(cond.key_lower)
    values = [raw] if type(raw) is str else values_of(raw)
    operator = cond.operator
    if operator is None:  # Null defines the absent case itself, in discovery too
        return null.null_matches(cond.pred, values is not None), ("key absent" if values is None else "key present")
    if values is None:
        if discovery and cond.key_lower not in ctx and not cond.if_exists:
            unknown.append(cond.key)
            return None, "key not in context"
        return absent_result(cond.qualifier, operator, cond.if_exists), "key absent"
    if cond.qualifier is None and type(raw) is not str and isinstance(raw, MULTI_VALUED):
        return False, "multi-valued key needs ForAnyValue: or ForAllValues:"
    pred = cond.pred
    note = ""
    if pred is None:  # the values hold policy variables: substitute them from this request
        if discovery:
            missing = _missing_variables(cond, ctx)
            if missing:
                unknown.extend(missing)
                return None, "policy variable not in context"
        substituted = []
        for v in cond.values:
            s = substitute(v, ctx, for_glob=operator.glob)
            if s is not None:  # a value whose variable cannot be resolved matches nothing
                substituted.append(s)
        if len(substituted) < len(cond.values):
            note = "unresolved policy variable matches nothing; "
        if not substituted:
            pred = never
        else:
            try:
                pred = operator.prepare(tuple(substituted))
            except InvalidPolicyValue as exc:
                msg = f"invalid value for {cond.op_text} {cond.key} after substitution: {exc}"
                outcome.errors.append(msg)
                return False, msg
    if cond.qualifier is None and len(values) == 1:
        result = bool(pred(values[0]))
        if operator.negated:
            result = not result
    else:
        result = combine(cond.qualifier, operator.negated, pred, values)
    if not explain:
        return result, ""
    return result, f"{note}request {_show(values[0] if len(values) == 1 else values)}"


def _missing_variables(cond: CompiledCondition, ctx: Mapping[str, Any]) -> list[str]:
    """Keys of variables absent from the context that leave some value unresolved (a default resolves it)."""
    missing = [k for k in cond.var_keys if k.lower() not in ctx]
    if not missing:
        return []
    for v in cond.values:
        if substitute(v, ctx, for_glob=False) is None:
            return missing
    return []
