"""The fast sandbox serializer (iamkit.sandbox.fastserial) changes no byte of moto's responses.

Integration: one seeded sandbox; every call is made twice, with moto's own serializer and with the fast one,
moto's random re-seeded identically before each (so request ids and generated credentials repeat too), and
the raw HTTP status, headers and body compared byte for byte. Property tests: the XML emitter against
xmltodict.unparse, the picker against moto's XFormedAttributePicker, the request-id rewrite against moto's.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
import os
import re
import time
import types
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamkit.sandbox import fastserial

SEED = 770_001  # this module's sandbox seed (its own account ids)
MOTO_SEED = 4242  # moto's random, re-seeded before each of the two calls
VOLATILE_HEADERS = {"date", "server"}


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _seed_moto(endpoint_url: str) -> None:
    req = urllib.request.Request(f"{endpoint_url}/moto-api/seed?a={MOTO_SEED}", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
        resp.read()


def _raw(client: Any, op: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The raw HTTP response of one call (status, headers, body bytes), errors included."""
    from botocore.exceptions import ClientError

    seen: dict[str, Any] = {}

    def grab(response_dict: dict[str, Any], **_: Any) -> None:
        seen.update(
            status=response_dict["status_code"], headers=dict(response_dict["headers"]), body=response_dict["body"]
        )

    client.meta.events.register("before-parse", grab, unique_id="fastserial-test-grab")
    try:
        getattr(client, op)(**kwargs)
    except ClientError:
        pass
    finally:
        client.meta.events.unregister("before-parse", unique_id="fastserial-test-grab")
    assert isinstance(seen.get("body"), bytes), f"no raw body captured for {op}"
    return seen


def _normalised(resp: dict[str, Any], volatile: list[bytes]) -> dict[str, Any]:
    body = resp["body"]
    for pattern in volatile:
        body = re.sub(pattern, b"<volatile/>", body)
    headers = {k.lower(): v for k, v in resp["headers"].items() if k.lower() not in VOLATILE_HEADERS}
    return {"status": resp["status"], "headers": headers, "body": body}


def both_ways(endpoint_url: str, call: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``call()`` with moto's serializer, then with the fast one (same moto random seed); state restored."""
    was_applied = fastserial.applied()
    try:
        fastserial.remove()
        _seed_moto(endpoint_url)
        plain = call()
        assert fastserial.apply(), "the fast serializer did not apply on the pinned moto"
        _seed_moto(endpoint_url)
        fast = call()
    finally:
        if was_applied:
            fastserial.apply()
        else:
            fastserial.remove()
    return plain, fast


# --------------------------------------------------------------------------------------------------
# The sandbox and the calls compared
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import iamkit.sandbox

    box = iamkit.sandbox.start(
        seed=SEED,
        roles_per_account=60,
        scenario=None,
        benign_events=0,
        entra=False,
        workdir=tmp_path_factory.mktemp("fastserial-sandbox"),
    )
    try:
        yield box
    finally:
        box.stop()


def _prod(sb: Any) -> str:
    return sb.org.accounts_in("Prod")[0].account_id


def _resource(sb: Any, service: str, policy: bool = True) -> Any:
    return next(r for r in sb.org.resources if r.service == service and (r.policy is not None) == policy)


def _policy_version_args(sb: Any) -> dict[str, Any]:
    iam = sb.client("iam", _prod(sb))
    pol = iam.list_policies(Scope="Local")["Policies"][0]
    return {"PolicyArn": pol["Arn"], "VersionId": pol["DefaultVersionId"]}


def _user_name(sb: Any) -> str:
    return next(u.name for u in sb.org.users if u.account_id == _prod(sb) and u.access_keys)


def _key_id(sb: Any) -> str:
    r = _resource(sb, "kms")
    return sb.client("kms", r.account_id).describe_key(KeyId=r.name)["KeyMetadata"]["KeyId"]


def _cross_account_role(sb: Any) -> str:
    return f"arn:aws:iam::{_prod(sb)}:role/OrganizationAccountAccessRole"


# name -> (service, account chooser, operation, kwargs builder, volatile body patterns, xml protocol?)
CASES: dict[str, tuple[str, Callable[[Any], str | None], str, Callable[[Any], dict[str, Any]], list[bytes], bool]] = {
    "iam-get-account-authorization-details": (
        "iam",
        _prod,
        "get_account_authorization_details",
        lambda sb: {},
        [],
        True,
    ),
    "iam-list-roles": ("iam", _prod, "list_roles", lambda sb: {"MaxItems": 1000}, [], True),
    "iam-list-users": ("iam", _prod, "list_users", lambda sb: {}, [], True),
    "iam-get-account-summary": ("iam", _prod, "get_account_summary", lambda sb: {}, [], True),
    "iam-list-policies-local": ("iam", _prod, "list_policies", lambda sb: {"Scope": "Local"}, [], True),
    "iam-list-policies-aws": ("iam", _prod, "list_policies", lambda sb: {"Scope": "AWS", "MaxItems": 300}, [], True),
    "iam-get-policy-version": ("iam", _prod, "get_policy_version", _policy_version_args, [], True),
    "iam-get-role": ("iam", _prod, "get_role", lambda sb: {"RoleName": "OrganizationAccountAccessRole"}, [], True),
    "iam-get-role-missing": ("iam", _prod, "get_role", lambda sb: {"RoleName": "no-such-role"}, [], True),
    "iam-list-access-keys": ("iam", _prod, "list_access_keys", lambda sb: {"UserName": _user_name(sb)}, [], True),
    "iam-list-mfa-devices": ("iam", _prod, "list_mfa_devices", lambda sb: {"UserName": _user_name(sb)}, [], True),
    "iam-get-account-password-policy": ("iam", _prod, "get_account_password_policy", lambda sb: {}, [], True),
    "sts-assume-role": (
        "sts",
        lambda sb: None,
        "assume_role",
        lambda sb: {"RoleArn": _cross_account_role(sb), "RoleSessionName": "fastserial"},
        [rb"<Expiration>[^<]*</Expiration>", rb"<SessionToken>[^<]*</SessionToken>"],
        True,
    ),
    "sts-get-caller-identity": ("sts", _prod, "get_caller_identity", lambda sb: {}, [], True),
    "organizations-list-accounts": ("organizations", lambda sb: None, "list_accounts", lambda sb: {}, [], False),
    "organizations-list-policies": (
        "organizations",
        lambda sb: None,
        "list_policies",
        lambda sb: {"Filter": "SERVICE_CONTROL_POLICY"},
        [],
        False,
    ),
    "s3-get-bucket-policy": (
        "s3",
        lambda sb: _resource(sb, "s3").account_id,
        "get_bucket_policy",
        lambda sb: {"Bucket": _resource(sb, "s3").name},
        [],
        False,
    ),
    "s3-get-bucket-policy-missing": (
        "s3",
        lambda sb: _resource(sb, "s3").account_id,
        "get_bucket_policy",
        lambda sb: {"Bucket": "no-such-bucket-fastserial"},
        [],
        True,
    ),
    "s3-list-buckets": ("s3", _prod, "list_buckets", lambda sb: {}, [], True),
    "s3-get-public-access-block": (
        "s3",
        lambda sb: _resource(sb, "s3").account_id,
        "get_public_access_block",
        lambda sb: {"Bucket": _resource(sb, "s3").name},
        [],
        True,
    ),
    "kms-list-keys": ("kms", _prod, "list_keys", lambda sb: {}, [], False),
    "kms-get-key-policy": (
        "kms",
        lambda sb: _resource(sb, "kms").account_id,
        "get_key_policy",
        lambda sb: {"KeyId": _key_id(sb), "PolicyName": "default"},
        [],
        False,
    ),
    "sso-admin-list-permission-sets": (
        "sso-admin",
        lambda sb: None,
        "list_permission_sets",
        lambda sb: {"InstanceArn": sb.org.identity_center_instance_arn},
        [],
        False,
    ),
    "sso-admin-describe-permission-set": (
        "sso-admin",
        lambda sb: None,
        "describe_permission_set",
        lambda sb: {
            "InstanceArn": sb.org.identity_center_instance_arn,
            "PermissionSetArn": sb.org.assignments[0].permission_set_arn,
        },
        [],
        False,
    ),
    "secretsmanager-get-resource-policy": (
        "secretsmanager",
        lambda sb: _resource(sb, "secretsmanager").account_id,
        "get_resource_policy",
        lambda sb: {"SecretId": _resource(sb, "secretsmanager").name},
        [],
        False,
    ),
    "lambda-get-policy": (
        "lambda",
        lambda sb: _resource(sb, "lambda").account_id,
        "get_policy",
        lambda sb: {"FunctionName": _resource(sb, "lambda").name},
        [],
        False,
    ),
    "sns-get-topic-attributes": (
        "sns",
        lambda sb: _resource(sb, "sns").account_id,
        "get_topic_attributes",
        lambda sb: {"TopicArn": _resource(sb, "sns").arn},
        [],
        True,
    ),
    "ecr-get-repository-policy": (
        "ecr",
        lambda sb: _resource(sb, "ecr").account_id,
        "get_repository_policy",
        lambda sb: {"repositoryName": _resource(sb, "ecr").name},
        [],
        False,
    ),
    "ec2-describe-regions": ("ec2", _prod, "describe_regions", lambda sb: {}, [], True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_patched_responses_are_byte_identical(sb: Any, case: str) -> None:
    service, account, op, build, volatile, _ = CASES[case]
    client = sb.client(service, account(sb))
    kwargs = build(sb)
    _raw(client, op, kwargs)  # warm-up: a backend's first use may draw from moto's random (EC2's default VPC)
    plain, fast = both_ways(sb.endpoint_url, lambda: _raw(client, op, kwargs))
    assert plain["body"], f"{case}: empty body, nothing compared"
    assert _normalised(fast, volatile) == _normalised(plain, volatile)


def test_the_big_iam_responses_use_the_fast_xml_path_and_are_large(sb: Any) -> None:
    """The comparison above is not vacuous: the big IAM bodies go through the fast emitter (no fallback),
    are hundreds of kilobytes, and carry the seeded roles and their policy documents."""
    client = sb.client("iam", _prod(sb))
    before = dict(fastserial.stats)
    plain, fast = both_ways(sb.endpoint_url, lambda: _raw(client, "get_account_authorization_details", {}))
    assert fastserial.stats["fast_xml"] == before["fast_xml"] + 1
    assert fastserial.stats["xmltodict_xml"] == before["xmltodict_xml"]
    roles = [r for r in sb.org.roles if r.account_id == _prod(sb)]
    assert len(roles) >= 60
    assert fast["body"].count(b"<RoleName>") == plain["body"].count(b"<RoleName>") >= len(roles)
    assert len(fast["body"]) > 100_000


def test_a_changed_byte_is_caught(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the fast emitter wrote one byte differently, the differential comparison would fail."""
    real = fastserial._fast_unparse
    monkeypatch.setattr(
        fastserial, "_fast_unparse", lambda d, full, short: real(d, full, short).replace("<Path>", "<Path >", 1)
    )
    client = sb.client("iam", _prod(sb))
    plain, fast = both_ways(sb.endpoint_url, lambda: _raw(client, "list_roles", {}))
    assert _normalised(fast, []) != _normalised(plain, [])


def test_a_wrong_alias_memo_is_caught(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A memo entry that sent ``RoleName`` to the role's ARN would change the body: the comparison sees it."""
    from moto.core.utils import get_service_model
    from moto.iam.models import Role as MotoRole

    role_shape = get_service_model("iam").operation_model("ListRoles").output_shape.members["Roles"].member
    member = role_shape.members["RoleName"]
    fastserial._make_picker_class()
    memo = member.__dict__.setdefault(fastserial._CACHE_ATTR, {})
    monkeypatch.setitem(memo, (MotoRole, "RoleName"), (role_shape, ("arn",), True))
    client = sb.client("iam", _prod(sb))
    plain, fast = both_ways(sb.endpoint_url, lambda: _raw(client, "list_roles", {}))
    assert _normalised(fast, []) != _normalised(plain, [])
    assert b"<RoleName>arn:aws:iam::" in fast["body"] and b"<RoleName>arn:aws:iam::" not in plain["body"]


def test_the_same_state_serves_the_same_json_both_ways(sb: Any) -> None:
    """A JSON-protocol listing parses to the same rows both ways (and is a real listing)."""
    client = sb.client("organizations")
    plain, fast = both_ways(sb.endpoint_url, lambda: _raw(client, "list_accounts", {}))
    rows = json.loads(fast["body"])["Accounts"]
    assert json.loads(plain["body"])["Accounts"] == rows
    assert {a["Id"] for a in rows} == {a.account_id for a in sb.org.accounts}


# --------------------------------------------------------------------------------------------------
# Installing: version guard, switch, start_server hook, remove
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def restore_patch() -> Iterator[None]:
    was = fastserial.applied()
    yield
    if was:
        fastserial.apply()
    else:
        fastserial.remove()


def test_apply_and_remove_swap_moto_functions(restore_patch: None) -> None:
    from moto.core import responses as mr
    from moto.core import serialize as ms

    fastserial.remove()
    originals = (
        mr.XFormedAttributePicker,
        ms.ResponseSerializer.get_value,
        ms.xmltodict,
        mr.BaseResponse.__dict__["_enrich_response"],
        mr.method_names_from_class,
        ms.TimestampSerializer.__dict__["_convert_timestamp_to_str"],
    )
    assert originals[0] is ms.XFormedAttributePicker
    assert fastserial.apply() and fastserial.apply()  # idempotent
    assert fastserial.applied()
    assert mr.XFormedAttributePicker is not ms.XFormedAttributePicker
    assert issubclass(mr.XFormedAttributePicker, ms.XFormedAttributePicker)
    assert ms.ResponseSerializer.get_value is not originals[1]
    assert ms.xmltodict.unparse is fastserial.unparse
    fastserial.remove()
    fastserial.remove()
    assert (
        mr.XFormedAttributePicker,
        ms.ResponseSerializer.get_value,
        ms.xmltodict,
        mr.BaseResponse.__dict__["_enrich_response"],
        mr.method_names_from_class,
        ms.TimestampSerializer.__dict__["_convert_timestamp_to_str"],
    ) == originals
    assert not fastserial.applied()


def test_another_moto_version_is_not_patched_and_says_so(
    restore_patch: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fastserial.remove()
    monkeypatch.setattr(fastserial, "moto_version", lambda: "5.2.6")
    with caplog.at_level(logging.WARNING, logger="iamkit.sandbox.fastserial"):
        assert fastserial.apply_for_sandbox() is False
    assert not fastserial.applied()
    assert "moto is 5.2.6" in caplog.text and fastserial.PINNED_MOTO_VERSION in caplog.text


@pytest.mark.parametrize("value", ["0", "false", "off", "No"])
def test_the_switch_turns_it_off(restore_patch: None, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    fastserial.apply()
    monkeypatch.setenv(fastserial.ENV_SWITCH, value)
    assert fastserial.apply_for_sandbox() is False
    assert not fastserial.applied()


@pytest.mark.parametrize("value", [None, "1", "yes"])
def test_the_switch_defaults_to_on(restore_patch: None, monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    fastserial.remove()
    if value is None:
        monkeypatch.delenv(fastserial.ENV_SWITCH, raising=False)
    else:
        monkeypatch.setenv(fastserial.ENV_SWITCH, value)
    assert fastserial.apply_for_sandbox() is True
    assert fastserial.applied()


def test_start_server_applies_it_unless_switched_off(restore_patch: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from iamkit.sandbox.server import start_server

    fastserial.remove()
    monkeypatch.setenv(fastserial.ENV_SWITCH, "0")
    srv = start_server()
    srv.stop()
    assert not fastserial.applied()
    monkeypatch.delenv(fastserial.ENV_SWITCH)
    srv = start_server()
    srv.stop()
    assert fastserial.applied()


# --------------------------------------------------------------------------------------------------
# The XML emitter against xmltodict.unparse
# --------------------------------------------------------------------------------------------------

_names = st.sampled_from(["a", "B", "member", "Role", "x-y", "n_1", "ns:el"])
_bad_names = st.sampled_from(["a b", "?pi", "!x", "a/b", 'q"', "<t>", "e=1", "#comment", ""])
_text = st.text(alphabet=st.sampled_from(list("ab &<>\"'\n\r\t=é€/")), max_size=8)
_scalars = st.one_of(st.none(), _text, st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=False))
_odd = st.one_of(st.just(b"bytes"), st.just(frozenset({"s"})), st.just(3 + 0j))


def _children(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.one_of(_names, _names.map(lambda n: "@" + n), st.just("#text"), st.just("@xmlns"), _bad_names)
    values = st.one_of(inner, st.lists(inner, max_size=3), st.lists(inner, max_size=2).map(tuple))
    return st.dictionaries(keys, values, max_size=4)


_values = st.recursive(st.one_of(_scalars, _odd), _children, max_leaves=12)
_documents = st.dictionaries(
    st.one_of(_names, _bad_names, st.just("#comment")), st.one_of(_values, st.lists(_values, max_size=2)), max_size=2
)


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as e:  # noqa: BLE001 - the error itself is what is compared
        return type(e).__name__, str(e)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_documents, full=st.booleans(), short=st.booleans())
def test_unparse_equals_xmltodict(doc: dict[str, Any], full: bool, short: bool) -> None:
    import xmltodict

    expected = _outcome(lambda: xmltodict.unparse(doc, full_document=full, short_empty_elements=short))
    assert _outcome(lambda: fastserial.unparse(doc, full_document=full, short_empty_elements=short)) == expected
    try:
        direct = fastserial._fast_unparse(doc, full, short)
    except fastserial._Fallback:
        return
    assert expected == ("ok", direct)


_plain_scalars = st.one_of(st.none(), _text, st.booleans(), st.integers(-5, 99))


def _plain_element(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    attrs = st.dictionaries(st.one_of(_names.map(lambda n: "@" + n), st.just("#text")), _plain_scalars, max_size=2)
    children = st.dictionaries(_names, st.one_of(inner, st.lists(inner, max_size=3)), max_size=4)
    return st.tuples(attrs, children, st.booleans()).map(lambda t: {**t[0], **t[1]} if t[2] else {**t[1], **t[0]})


_plain_values = st.recursive(_plain_scalars, _plain_element, max_leaves=15)


@settings(max_examples=300, deadline=None)
@given(root=_names, value=_plain_values, full=st.booleans(), short=st.booleans())
def test_moto_shaped_documents_take_the_fast_path(root: str, value: Any, full: bool, short: bool) -> None:
    """Plain dict/list/str/bool/int/None documents with valid names never fall back, and match xmltodict."""
    import xmltodict

    doc = {root: value}
    assert fastserial._fast_unparse(doc, full, short) == xmltodict.unparse(
        doc, full_document=full, short_empty_elements=short
    )


@pytest.mark.parametrize(
    ("doc", "full", "short"),
    [
        ({"a": {"@x": "say \"hi\" & 'bye'", "#text": "<1>", "b": [None, "", {"c": 2}], "d": []}}, True, True),
        ({"a": {"@x": 'say "hi"', "b": ()}}, True, False),
        ({"a": {"#text": "", "b": ()}}, False, True),
        ({"a": [1, True, 2.5], "z": None}, False, False),
        ({"r": {"@a": None, "@b": 0, "e": "\r\n\t"}}, True, True),
    ],
)
def test_unparse_examples(doc: dict[str, Any], full: bool, short: bool) -> None:
    import xmltodict

    assert fastserial._fast_unparse(doc, full, short) == xmltodict.unparse(
        doc, full_document=full, short_empty_elements=short
    )


class _Str(str):
    pass


class _Level(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize(
    "doc",
    [
        {"a": {_Str("b"): "x"}},
        {_Str("a"): "x"},
        {"a": {"b": _Str("x & y")}},
        {"a": {"@b": _Str("1")}},
        {"a": _Level.ONE},
        {"a": {"b": [[1, 2]]}},
        {"a": {"#text": ["t"]}},
        {"a": {"b": b"bytes"}},
    ],
)
def test_values_it_does_not_reproduce_go_to_xmltodict(doc: dict[str, Any]) -> None:
    import xmltodict

    with pytest.raises(fastserial._Fallback):
        fastserial._fast_unparse(doc, True, True)
    assert _outcome(lambda: fastserial.unparse(doc, short_empty_elements=True)) == _outcome(
        lambda: xmltodict.unparse(doc, short_empty_elements=True)
    )


@pytest.mark.parametrize(
    ("doc", "kwargs"),
    [
        ({"a": {"@b": "1", "c": ["x", "y"]}}, {"pretty": True}),
        ({"a": {"!b": "1", "c": ["x", "y"]}}, {"attr_prefix": "!"}),
        ({"a": {"@b": "1", "c": ["x", "y"]}}, {"encoding": "latin-1"}),
    ],
)
def test_unparse_options_it_does_not_reproduce_go_to_xmltodict(doc: dict[str, Any], kwargs: dict[str, Any]) -> None:
    import xmltodict

    before = fastserial.stats["xmltodict_xml"]
    assert fastserial.unparse(doc, **kwargs) == xmltodict.unparse(doc, **kwargs)
    assert fastserial.stats["xmltodict_xml"] == before + 1


# --------------------------------------------------------------------------------------------------
# The picker against moto's XFormedAttributePicker
# --------------------------------------------------------------------------------------------------


class Role:
    """Looks like a moto model: snake_case attributes, a class-prefix alias (``name`` for RoleName)."""

    def __init__(self, values: dict[str, Any]) -> None:
        for k, v in values.items():
            setattr(self, k, v)


class Aliased(Role):
    class Meta:
        serialization_aliases = {"RoleName": "display", "Arn": "nested.arn"}


class Holder:
    def __init__(self, arn: str) -> None:
        self.arn = arn


class Other2(Role):
    """No class-prefix alias for RoleName."""


class FakeSerializer:
    """What ``get_value`` reads from a serializer: its picker and the key path."""

    def __init__(self, picker: Any, path: list[str]) -> None:
        self._value_picker = picker
        self.path = path
        self.operation_model = types.SimpleNamespace(service_model=None)


def _shape(service: str, shape_name: str) -> Any:
    from moto.core.utils import get_service_model

    return get_service_model(service).shape_for(shape_name)


_attr_names = st.sampled_from(
    [
        "RoleName",
        "role_name",
        "name",
        "display",
        "Arn",
        "arn",
        "Path",
        "path",
        "RoleId",
        "id",
        "Tags",
        "tags",
        "MaxSessionDuration",
        "Description",
    ]
)
_attr_values = st.one_of(st.none(), st.text(max_size=3), st.integers(0, 5), st.lists(st.integers(0, 3), max_size=2))


@settings(max_examples=300, deadline=None)
@given(
    values=st.dictionaries(_attr_names, _attr_values, max_size=8),
    kind=st.sampled_from(["obj", "dict", "meta"]),
    key=st.sampled_from(["RoleName", "Arn", "Path", "RoleId", "Tags", "MaxSessionDuration", "Description"]),
    path=st.sampled_from([["GetRoleResponse", "Role"], ["ListRolesResponse", "Roles", "Role"], ["X"]]),
)
def test_picker_equals_moto(values: dict[str, Any], kind: str, key: str, path: list[str]) -> None:
    from moto.core import serialize as ms
    from moto.iam.responses import IamResponse

    role_shape = _shape("iam", "Role")
    member = role_shape.members[key]
    member.parent = role_shape
    if kind == "dict":
        obj: Any = dict(values)
    elif kind == "meta":
        obj = Aliased(values)
        obj.nested = Holder("arn:nested")
    else:
        obj = Role(values)
    transformers = IamResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER
    ctx = ms.AttributePickerContext(obj=obj, key=key, shape=member, key_path=".".join(path))
    expected = _outcome(lambda: ms.XFormedAttributePicker(response_transformers=transformers)(ctx))

    ser = FakeSerializer(fastserial._make_picker_class()(response_transformers=transformers), path)
    assert _outcome(lambda: fastserial.fast_get_value(ser, obj, key, member)) == expected
    assert _outcome(lambda: fastserial.fast_get_value(ser, obj, key, member)) == expected  # memoized: the same


def test_picker_memo_depends_on_the_class() -> None:
    """Two classes, same key and shape: each gets its own alias list (class-prefix alias differs)."""
    role_shape = _shape("iam", "RoleDetail")
    member = role_shape.members["RoleName"]
    member.parent = role_shape

    class Other(Role):
        pass

    ser = FakeSerializer(fastserial._make_picker_class()(), ["GetAccountAuthorizationDetailsResponse", "RoleDetail"])
    assert fastserial.fast_get_value(ser, Role({"name": "r1"}), "RoleName", member) == "r1"
    assert fastserial.fast_get_value(ser, Other({"name": "r2"}), "RoleName", member) is None
    assert fastserial.fast_get_value(ser, Other({"role_name": "r3"}), "RoleName", member) == "r3"


def test_picker_leaves_a_failing_alias_provider_to_moto() -> None:
    """moto stops at the first key found, so a provider that would raise later is never asked: same here."""
    from moto.core import serialize as ms

    member = _shape("iam", "Role").members["RoleName"]
    member.parent = object()  # ShapePrefixAlias would fail on it (no type_name)
    ser = FakeSerializer(fastserial._make_picker_class()(), ["X"])
    ctx = ms.AttributePickerContext(obj={"RoleName": "found"}, key="RoleName", shape=member, key_path="X")
    assert ms.XFormedAttributePicker()(ctx) == "found"
    assert fastserial.fast_get_value(ser, {"RoleName": "found"}, "RoleName", member) == "found"
    assert not member.__dict__.get(fastserial._CACHE_ATTR)  # nothing memoized from a failed derivation


def test_picker_memo_follows_a_new_parent() -> None:
    """The same member shape under another parent (ShapePrefixAlias reads the parent's name) is re-derived."""
    member = _shape("iam", "Role").members["RoleName"]
    ser = FakeSerializer(fastserial._make_picker_class()(), ["X"])
    member.parent = _shape("iam", "Role")
    assert (
        fastserial.fast_get_value(ser, Other2({"name": "via-shape-prefix"}), "RoleName", member) == "via-shape-prefix"
    )
    member.parent = _shape("iam", "RoleDetail")
    assert fastserial.fast_get_value(ser, Other2({"name": "via-shape-prefix"}), "RoleName", member) is None


def test_method_names_memo_equals_moto() -> None:
    from moto.core.utils import method_names_from_class
    from moto.iam.responses import IamResponse
    from moto.s3.responses import S3Response
    from moto.sts.responses import TokenResponse

    memo = fastserial._memo_method_names(method_names_from_class)
    for cls in (IamResponse, S3Response, TokenResponse, IamResponse):
        names = memo(cls)
        assert names == method_names_from_class(cls) and "list_roles" in memo(IamResponse)
        names.append("mutated-by-a-caller")
        assert "mutated-by-a-caller" not in memo(cls)


class _FoldTz(dt.tzinfo):
    """An offset that depends on fold (+1 h at fold=0, +2 h at fold=1): equal-looking times differ."""

    def utcoffset(self, d: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=2 if d is not None and d.fold else 1)

    def dst(self, d: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)


class _NoOffsetTz(dt.tzinfo):
    """A tzinfo whose offset is None: Python treats such datetimes as naive (local time for astimezone)."""

    def utcoffset(self, d: dt.datetime | None) -> None:
        return None

    def dst(self, d: dt.datetime | None) -> None:
        return None


_zones = st.sampled_from(
    [None, dt.UTC, dt.timezone(dt.timedelta(hours=5)), dt.timezone(dt.timedelta(hours=-3)), _FoldTz(), _NoOffsetTz()]
)
_datetimes = st.builds(
    lambda d, tz, fold: d.replace(tzinfo=tz, fold=fold),
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2037, 1, 1)),
    _zones,
    st.integers(0, 1),
)
_stamp_values = st.one_of(_datetimes, st.integers(0, 2**31), st.just("2024-01-02T03:04:05Z"))


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(_stamp_values, min_size=1, max_size=6),
    fmt=st.sampled_from(["iso8601", "iso8601_zeroed", "rfc822", "unixtimestamp", "ISO8601"]),
)
def test_timestamp_memo_equals_moto(values: list[Any], fmt: str) -> None:
    """Same output as moto for each value, including equal instants in other zones and fold-only changes."""
    from moto.core import serialize as ms

    original = fastserial._originals.get("timestamps") or ms.TimestampSerializer.__dict__["_convert_timestamp_to_str"]
    memo = fastserial._memo_timestamps(original)
    ser = ms.TimestampSerializer("iso8601")
    shifted = [
        v.astimezone(dt.timezone(dt.timedelta(hours=7)))
        for v in values
        if isinstance(v, dt.datetime) and v.utcoffset() is not None
    ]
    refolded = [v.replace(fold=1 - v.fold) for v in values if isinstance(v, dt.datetime)]
    rezoned = [v.replace(tzinfo=None if v.tzinfo else _NoOffsetTz()) for v in values if isinstance(v, dt.datetime)]
    saved_tz = os.environ.get("TZ")
    os.environ["TZ"] = "XXX+5"  # a local zone other than UTC: offset-less tzinfo differs from naive (UTC)
    time.tzset()
    try:
        for v in [*values, *shifted, *refolded, *rezoned, *values]:
            assert _outcome(lambda v=v: memo(ser, v, fmt)) == _outcome(lambda v=v: original(ser, v, fmt))
    finally:
        if saved_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved_tz
        time.tzset()


# --------------------------------------------------------------------------------------------------
# The request-id rewrite against moto's
# --------------------------------------------------------------------------------------------------

_bodies = st.lists(
    st.sampled_from(["<RequestId>", "</RequestId>", "abc", "\n", "<a>", "x<RequestId>y", "é"]), max_size=12
).map("".join)


@settings(max_examples=400, deadline=None)
@given(
    body=st.one_of(_bodies, _bodies.map(str.encode), st.none()),
    status=st.sampled_from([None, 200, "404"]),
    request_id=st.sampled_from(["Ab3xYZ", "REQ\\1ID", ""]),
)
def test_request_id_rewrite_equals_moto(body: Any, status: Any, request_id: str) -> None:
    from moto.core import responses as mr

    original = fastserial._originals.get("enrich") or mr.BaseResponse.__dict__["_enrich_response"]
    ours = fastserial._make_enrich_response()
    h1: dict[str, Any] = {} if status is None else {"status": status}
    h2 = dict(h1)
    with pytest.MonkeyPatch.context() as mp:  # moto's generator is random: fix it for both
        mp.setattr(mr, "gen_amzn_requestid_long", lambda headers=None: request_id)
        assert ours(h2, body) == original.__func__(h1, body)
    assert h1 == h2
