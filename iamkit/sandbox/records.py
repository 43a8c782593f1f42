"""Builders for CloudTrail records: ids from a seeded RNG, ``userIdentity`` shapes per type, record templates.

Pure and fast: the trail generator (``trailgen``) builds millions of records from these, so templates are
built once and copied shallowly per event. Nested objects (``userIdentity``, ``tlsDetails``, static
``requestParameters``) are shared between records: treat generated records as read-only.
"""

from __future__ import annotations

import base64
import json
import random
import time
from json.encoder import encode_basestring
from typing import Any

from iamkit.arn import assumed_role_arn, name_of

EVENT_VERSION = "1.09"
_UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_TLS = ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
_TLS12 = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")


class Ids:
    """Identifiers (uuids, key ids, principal ids) drawn from one seeded ``random.Random``: deterministic."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._bits = rng.getrandbits

    def uuid(self) -> str:
        """A version-4 shaped uuid string (CloudTrail eventID / requestID) from the RNG, never ``uuid4``."""
        h = f"{self._bits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"

    def uuid_pair(self) -> tuple[str, str]:
        """Two uuids from one draw (an event's requestID and eventID): the hot path of generation."""
        h = f"{self._bits(256):064x}"
        return (
            f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}",
            f"{h[32:40]}-{h[40:44]}-4{h[45:48]}-{_VARIANT[h[48]]}{h[49:52]}-{h[52:]}",
        )

    def hex_upper(self, n: int) -> str:
        """``n`` upper-case hex characters (S3 request ids are 16 of them)."""
        return f"{self._bits(4 * n):0{n}X}"

    def _chars(self, alphabet: str, n: int) -> str:
        choice = self.rng.choice
        return "".join(choice(alphabet) for _ in range(n))

    def key_id(self, prefix: str) -> str:
        """An access key id: ``AKIA``/``ASIA`` + 16 base32 characters, as AWS issues them."""
        return prefix + base64.b32encode(self._bits(80).to_bytes(10, "big")).decode()

    def principal_id(self, prefix: str) -> str:
        """A unique id: ``AIDA``/``AROA`` + 17 upper-case letters and digits."""
        return prefix + self._chars(_UPPER_DIGITS, 17)

    def alnum(self, n: int) -> str:
        """``n`` letters and digits (the random tail of a CloudTrail log file name)."""
        return self._chars(_ALNUM, n)


# -- time --------------------------------------------------------------------------------------------
_minute_cache: dict[int, str] = {}


def iso(ts: int) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (CloudTrail's eventTime), with a per-minute prefix cache."""
    m, s = divmod(ts, 60)
    p = _minute_cache.get(m)
    if p is None:
        if len(_minute_cache) > 200_000:
            _minute_cache.clear()
        p = _minute_cache[m] = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(m * 60))
    return f"{p}{s:02d}Z"


# -- userIdentity ------------------------------------------------------------------------------------
def iam_user_identity(user_id: str, arn: str, account_id: str, user_name: str, access_key_id: str) -> dict:
    """``IAMUser`` identity: long-term key (AKIA…) calls, or ``""`` for console sign-in."""
    return {
        "type": "IAMUser",
        "principalId": user_id,
        "arn": arn,
        "accountId": account_id,
        "accessKeyId": access_key_id,
        "userName": user_name,
    }


def session_issuer(role_id: str, role_arn: str, account_id: str) -> dict:
    """The ``sessionContext.sessionIssuer`` of a role session."""
    return {
        "type": "Role",
        "principalId": role_id,
        "arn": role_arn,
        "accountId": account_id,
        "userName": name_of(role_arn),
    }


def assumed_role_identity(
    role_id: str,
    role_arn: str,
    account_id: str,
    session_name: str,
    access_key_id: str,
    created: str,
    mfa: bool = False,
    source_identity: str | None = None,
) -> dict:
    """``AssumedRole`` identity of a role session (ASIA… key) with its session issuer and attributes."""
    role_name = name_of(role_arn)
    ctx: dict[str, Any] = {
        "sessionIssuer": session_issuer(role_id, role_arn, account_id),
        "attributes": {"creationDate": created, "mfaAuthenticated": "true" if mfa else "false"},
    }
    if source_identity:
        ctx["sourceIdentity"] = source_identity
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session_name}",
        "arn": assumed_role_arn(account_id, role_name, session_name),
        "accountId": account_id,
        "accessKeyId": access_key_id,
        "sessionContext": ctx,
    }


def federated_user_identity(account_id: str, name: str, access_key_id: str, issuer: dict, created: str) -> dict:
    """``FederatedUser`` identity (GetFederationToken); ``issuer`` is the IAM user who asked for it."""
    return {
        "type": "FederatedUser",
        "principalId": f"{account_id}:{name}",
        "arn": f"arn:aws:sts::{account_id}:federated-user/{name}",
        "accountId": account_id,
        "accessKeyId": access_key_id,
        "sessionContext": {
            "sessionIssuer": {
                "type": "IAMUser",
                "principalId": issuer["principalId"],
                "arn": issuer["arn"],
                "accountId": account_id,
                "userName": issuer["userName"],
            },
            "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
        },
    }


def saml_user_identity(principal_id: str, user_name: str, identity_provider: str) -> dict:
    """``SAMLUser`` identity of an AssumeRoleWithSAML call (Identity Center or direct SAML)."""
    return {
        "type": "SAMLUser",
        "principalId": principal_id,
        "userName": user_name,
        "identityProvider": identity_provider,
    }


def identity_center_user_identity(account_id: str, user_id: str, identity_store_arn: str, credential_id: str) -> dict:
    """``IdentityCenterUser`` identity: portal/SSO calls made on behalf of an Identity Center user."""
    return {
        "type": "IdentityCenterUser",
        "accountId": account_id,
        "onBehalfOf": {"userId": user_id, "identityStoreArn": identity_store_arn},
        "credentialId": credential_id,
    }


def aws_service_identity(invoked_by: str) -> dict:
    """``AWSService`` identity: a service acting for the account (assuming a service role…)."""
    return {"type": "AWSService", "invokedBy": invoked_by}


def aws_account_identity(principal_id: str, account_id: str) -> dict:
    """``AWSAccount`` identity: how the resource owner's copy of a cross-account call names the caller."""
    return {"type": "AWSAccount", "principalId": principal_id, "accountId": account_id}


def root_identity(account_id: str, access_key_id: str = "") -> dict:
    """``Root`` identity of an account."""
    return {
        "type": "Root",
        "principalId": account_id,
        "arn": f"arn:aws:iam::{account_id}:root",
        "accountId": account_id,
        "accessKeyId": access_key_id,
    }


# -- records -----------------------------------------------------------------------------------------
_tls_cache: dict[tuple[str, str], dict] = {}


def tls_details(host: str, v13: bool = True) -> dict:
    """Shared ``tlsDetails`` object for a host."""
    key = (host, "3" if v13 else "2")
    d = _tls_cache.get(key)
    if d is None:
        ver, suite = _TLS if v13 else _TLS12
        d = _tls_cache[key] = {"tlsVersion": ver, "cipherSuite": suite, "clientProvidedHostHeader": host}
    return d


def service_host(source: str, region: str) -> str:
    """The endpoint host a client used for ``eventSource`` in ``region`` (global services have one host)."""
    svc = source.split(".", 1)[0]
    if svc in ("iam", "organizations", "signin", "route53"):
        return source if svc != "organizations" else "organizations.us-east-1.amazonaws.com"
    if svc == "s3":
        return f"s3.{region}.amazonaws.com"
    return f"{svc}.{region}.amazonaws.com"


def template(
    source: str,
    name: str,
    region: str,
    account_id: str,
    *,
    read_only: bool,
    event_type: str = "AwsApiCall",
    data_event: bool = False,
    resources: bool = False,
    additional: bool = False,
    shared: bool = False,
    tls: bool = True,
) -> dict:
    """A record skeleton in CloudTrail's key order, with placeholders for the optional keys asked for;
    per-event fields are set on a shallow copy."""
    rec: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": None,
        "eventTime": None,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": None,
        "userAgent": None,
        "requestParameters": None,
        "responseElements": None,
    }
    if additional:
        rec["additionalEventData"] = None
    rec["requestID"] = None
    rec["eventID"] = None
    rec["readOnly"] = read_only
    if resources:
        rec["resources"] = None
    rec["eventType"] = event_type
    rec["managementEvent"] = not data_event
    rec["recipientAccountId"] = account_id
    if shared:
        rec["sharedEventID"] = None
    rec["eventCategory"] = "Data" if data_event else "Management"
    if tls:
        rec["tlsDetails"] = tls_details(service_host(source, region))
    return rec


def denied_message(principal_arn: str, action: str, resource: str, why: str = "identity") -> str:
    """The errorMessage AWS writes for an AccessDenied, naming the kind of policy that refused."""
    tail = {
        "identity": f"because no identity-based policy allows the {action} action",
        "scp": "with an explicit deny in a service control policy",
        "resource": f"because no resource-based policy allows the {action} action",
    }[why]
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {tail}"


def with_error(rec: dict, code: str, message: str) -> dict:
    """Copy of ``rec`` turned into a denied call: errorCode/errorMessage after userAgent, no response."""
    out: dict[str, Any] = {}
    for k, v in rec.items():
        out[k] = v
        if k == "userAgent":
            out["errorCode"] = code
            out["errorMessage"] = message
    out["responseElements"] = None
    return out


# -- serialising -------------------------------------------------------------------------------------
_SHARED_KEYS = frozenset(("userIdentity", "tlsDetails"))


class RecordEncoder:
    """Compact JSON for records, about twice as fast as ``json.dumps`` on them: key fragments are cached and
    the shared sub-objects (userIdentity, tlsDetails) are encoded once per object (cache holds a reference,
    so an ``id`` is never reused while cached). Output equals ``json.dumps(rec, separators=(",", ":"))``
    with ``ensure_ascii=False``."""

    def __init__(self, cache_size: int = 8192):
        self._dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        self._s = encode_basestring
        self._keys: dict[str, str] = {}
        self._cache: dict[int, tuple[Any, str]] = {}
        self._cache_size = cache_size

    def encode(self, rec: dict) -> str:
        """One record as a JSON object string."""
        keys, cache, s, dumps = self._keys, self._cache, self._s, self._dumps
        parts = []
        ap = parts.append
        for k, v in rec.items():
            f = keys.get(k)
            if f is None:
                f = keys[k] = s(k) + ":"
            t = type(v)
            if t is str:
                ap(f + s(v))
            elif v is None:
                ap(f + "null")
            elif t is bool:
                ap(f + ("true" if v else "false"))
            elif k in _SHARED_KEYS:
                c = cache.get(id(v))
                if c is None or c[0] is not v:
                    if len(cache) >= self._cache_size:
                        cache.clear()
                    c = cache[id(v)] = (v, dumps(v))
                ap(f + c[1])
            else:
                ap(f + dumps(v))
        return "{" + ",".join(parts) + "}"

    def log_file(self, recs: list[dict]) -> bytes:
        """A CloudTrail log file body: ``{"Records":[…]}`` as UTF-8."""
        enc = self.encode
        return ('{"Records":[' + ",".join([enc(r) for r in recs]) + "]}").encode("utf-8")
