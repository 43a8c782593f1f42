"""CloudTrail generator: the scripted incident plus a benign haystack, as organization-trail log files.

``generate`` streams raw CloudTrail records in time order, consistent with a ``SeededOrg`` (account ids,
ARNs, AIDA/AROA ids, AKIA keys; every ASIA key is issued by an STS record it can be traced to).
``write_trail`` groups them per account / region / 5-minute window like CloudTrail and writes gzipped
``{"Records": [...]}`` files in the ``AWSLogs/<org>/<account>/CloudTrail/<region>/Y/M/D/`` layout to S3
and/or a local folder. Everything is deterministic from ``seed`` (no global random, no uuid4).
Records share nested sub-objects (userIdentity, tlsDetails): copy before mutating one.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import multiprocessing as mp
import queue
import random
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from iamkit.arn import (
    account_of,
    assumed_role_arn,
    is_account_id,
    name_of,
    parse,
    principal_account,
    user_arn,
)
from iamkit.errors import BadInput, TrailError
from iamkit.sandbox import records as R
from iamkit.sandbox.model import SCENARIOS, Person, Role, SeededOrg, User

WINDOW_SECONDS = 300  # CloudTrail delivers a file per account/region about every 5 minutes
_HOUR = 3600
_DAY = 86400

_BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
_CLI_UA = (
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/{cmd}",
    "aws-cli/2.17.18 Python/3.11.9 Linux/6.8.0-45-generic exe/x86_64.ubuntu.24 prompt/off command/{cmd}",
    "aws-cli/2.13.25 Python/3.11.5 Windows/10 exe/AMD64 prompt/off command/{cmd}",
)
_CI_UA = "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython exec-env/GitHubActions cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off md/command#{cmd}"
_SDK_UA = {
    "lambda.amazonaws.com": "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.227-239.884.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.36",
    "ec2.amazonaws.com": "aws-sdk-java/2.28.16 Linux/6.1.112-122.189.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard",
    "ecs-tasks.amazonaws.com": "aws-sdk-go-v2/1.32.2 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/s3#1.66.0",
}
_DEFAULT_SDK_UA = (
    "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.227 md/arch#x86_64 lang/python#3.12.7 Botocore/1.35.36"
)
_CONSOLE_UA = "AWS Internal"
# global services: CloudTrail records their calls in us-east-1 whatever the caller's region
_GLOBAL_SOURCES = frozenset(
    ("iam.amazonaws.com", "organizations.amazonaws.com", "route53.amazonaws.com", "signin.amazonaws.com")
)


def _stable_ip(who: str, first: tuple[int, ...], prefix: str = "") -> str:
    """A fixed public-looking IP for a principal (hash of its name, so independent of generation order)."""
    h = hashlib.sha256(who.encode()).digest()
    if prefix:
        return f"{prefix}.{h[0]}.{h[1] % 254 + 1}"
    return f"{first[h[0] % len(first)]}.{h[1]}.{h[2]}.{h[3] % 254 + 1}"


def _pick(options: tuple[str, ...], who: str) -> str:
    """A stable per-principal choice (same person, same browser / CLI build), independent of the RNG."""
    return options[int(hashlib.sha256(who.encode()).hexdigest()[:8], 16) % len(options)]


def _epoch(text: str) -> int:
    """ISO-8601 (with Z or offset, or naive = UTC) -> epoch seconds."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def _iam_date(ts: int) -> str:
    """IAM's response date format in CloudTrail ("Nov 27, 2026, 10:04:05 AM")."""
    t = time.gmtime(ts)
    hour = t.tm_hour % 12 or 12
    return f"{time.strftime('%b', t)} {t.tm_mday}, {t.tm_year}, {hour}:{t.tm_min:02d}:{t.tm_sec:02d} {'AM' if t.tm_hour < 12 else 'PM'}"


def _principals(trust: dict[str, Any], kind: str) -> list[str]:
    """Principals of one kind (``Service``, ``AWS``, ``Federated``) an Allow in a trust policy names."""
    out: list[str] = []
    stmts = trust.get("Statement", []) if isinstance(trust, dict) else []
    if isinstance(stmts, dict):
        stmts = [stmts]
    for st in stmts:
        if not isinstance(st, dict) or st.get("Effect", "Allow") != "Allow":
            continue
        p = st.get("Principal")
        if p == "*" and kind == "AWS":
            out.append("*")
        elif isinstance(p, dict):
            v = p.get(kind)
            out += [v] if isinstance(v, str) else list(v or [])
    return out


def _service_principals(trust: dict[str, Any]) -> list[str]:
    """Service principals a trust policy names (``lambda.amazonaws.com`` …)."""
    return _principals(trust, "Service")


def _trusted_accounts(trust: dict[str, Any]) -> set[str]:
    """Accounts whose principals a trust policy lets in (``*`` for anyone)."""
    out = set()
    for v in _principals(trust, "AWS"):
        if v == "*" or is_account_id(v):
            out.add(v)
        elif principal_account(v):
            out.add(principal_account(v))
    return out


def _oidc_subject(trust: dict[str, Any]) -> str:
    """A ``sub`` the trust policy accepts for GitHub's OIDC (the default branch when unconstrained)."""
    stmts = trust.get("Statement", []) if isinstance(trust, dict) else []
    for st in stmts if isinstance(stmts, list) else [stmts]:
        for cond in (st.get("Condition") or {}).values():
            for k, v in cond.items():
                if k.endswith(":sub"):
                    v = v[0] if isinstance(v, list) else v
                    return v.replace("*", "main")
    return "repo:acme/webapp:ref:refs/heads/main"


def _bucket_of(object_arn: str) -> tuple[str, str]:
    """``arn:aws:s3:::bucket/key`` -> (bucket, key)."""
    a = parse(object_arn)
    bucket, _, key = (a.resource if a else object_arn).partition("/")
    return bucket, key


def _fake_token(key: str) -> str:
    """A session-token-shaped string derived from the key (deterministic, obviously fake)."""
    return "IQoJb3JpZ2luX2VjFAKE" + hashlib.sha256(key.encode()).hexdigest() * 3


@dataclass
class _Session:
    """A principal with credentials at hand: its identity, where it calls from and with what."""

    ident: dict
    account: str
    ip: str
    ua: str
    console: bool = False
    arn: str = ""


@dataclass
class _Pools:
    """The org's principals sorted by what they benignly do."""

    service_roles: list[tuple[Role, str]] = field(default_factory=list)  # (role, service principal)
    deploy_roles: list[tuple[Role, set[str]]] = field(default_factory=list)  # (role, trusted accounts)
    oidc_roles: list[tuple[Role, str]] = field(default_factory=list)  # (role, OIDC provider ARN)
    ci_users: list[tuple[User, str]] = field(default_factory=list)  # (user, AKIA key)
    dev_users: list[tuple[User, str]] = field(default_factory=list)
    console_users: list[User] = field(default_factory=list)
    sso: list[tuple[Person, str, Role]] = field(default_factory=list)  # (person, permission set, role)


class _Gen:
    """One generation run: RNGs, template cache, principal pools; builds records as (epoch, kind, record)."""

    def __init__(self, org: SeededOrg, seed: int, scenario: str | None):
        if scenario is not None and scenario not in SCENARIOS:
            raise BadInput(f"unknown scenario {scenario!r}: expected one of {', '.join(SCENARIOS)} or None")
        if not org.accounts:
            raise BadInput("SeededOrg has no accounts: nothing to write a trail for")
        self.org = org
        self.seed = seed
        self.scenario = scenario
        self.region = org.region or "us-east-1"
        self.region2 = "us-west-2" if self.region != "us-west-2" else "us-east-1"
        self.mgmt = org.management_account_id or org.accounts[0].account_id
        self.inc = org.incident if scenario else None
        if scenario and (
            self.inc is None
            or self.inc.scenario != scenario
            or (scenario == "compromised-access-key" and not self.inc.leaked_access_key_id)
        ):
            raise BadInput(f"scenario {scenario!r} needs org.incident filled by its seeding (leaked key, user, …)")
        self._tmpl: dict[tuple, dict] = {}
        self.t_max = 2**62  # records never get a later eventTime (set to the trail's end for the haystack)
        self.attacker_ip = self.inc.attacker_ip if self.inc else ""
        self.role_by_arn = {r.arn: r for r in org.roles}
        self.user_by_arn = {u.arn: u for u in org.users}
        self.person_by_upn = {p.upn.lower(): p for p in org.people}
        self.trail_arn = f"arn:aws:cloudtrail:{self.region}:{self.mgmt}:trail/{org.trail_name or 'organization-trail'}"
        self.idstore_arn = f"arn:aws:identitystore::{self.mgmt}:identitystore/{org.identity_store_id or 'd-0000000000'}"
        self.sso_hex = hashlib.sha256(f"sso:{org.org_id}:{self.mgmt}".encode()).hexdigest()[:16]

    # -- one record ------------------------------------------------------------------------------
    def call(
        self,
        ids: R.Ids,
        t: int,
        s: _Session,
        source: str,
        name: str,
        *,
        ro: bool,
        req: dict | None = None,
        resp: dict | None = None,
        region: str | None = None,
        account: str | None = None,
        data: bool = False,
        resources: list | None = None,
        add: dict | None = None,
        shared: str | None = None,
        etype: str = "AwsApiCall",
        error: tuple[str, str] | None = None,
        tls: bool = True,
    ) -> dict:
        """One CloudTrail record: a shallow copy of a cached template with the per-event fields set."""
        region = "us-east-1" if source in _GLOBAL_SOURCES else (region or self.region)
        account = account or s.account
        if t > self.t_max:  # benign activity ends with the trail (``_Benign.emit`` clips the same way)
            t = self.t_max
        key = (
            source,
            name,
            region,
            account,
            ro,
            data,
            etype,
            resources is not None,
            add is not None,
            shared is not None,
            tls,
        )
        tmpl = self._tmpl.get(key)
        if tmpl is None:
            tmpl = self._tmpl[key] = R.template(
                source,
                name,
                region,
                account,
                read_only=ro,
                event_type=etype,
                data_event=data,
                resources=resources is not None,
                additional=add is not None,
                shared=shared is not None,
                tls=tls,
            )
        rec = tmpl.copy()
        rec["userIdentity"] = s.ident
        rec["eventTime"] = R.iso(t)
        rec["sourceIPAddress"] = s.ip
        rec["userAgent"] = s.ua
        rec["requestParameters"] = req
        rec["responseElements"] = resp
        request_id, rec["eventID"] = ids.uuid_pair()
        rec["requestID"] = request_id[-16:].upper() if source == "s3.amazonaws.com" else request_id
        if resources is not None:
            rec["resources"] = resources
        if add is not None:
            rec["additionalEventData"] = add
        if shared is not None:
            rec["sharedEventID"] = shared
        if s.console:
            rec["sessionCredentialFromConsole"] = "true"
        if error:
            rec = R.with_error(rec, *error)
        return rec

    # -- STS issuing calls (every ASIA key in the trail comes from one of these) -----------------
    def assume_role(
        self,
        ids: R.Ids,
        t: int,
        caller: _Session,
        role: Role,
        session_name: str,
        duration: int = 3600,
        caller_principal_id: str = "",
    ) -> tuple[list[dict], str]:
        """AssumeRole records (both accounts' copies when cross-account) and the issued ASIA key."""
        key = ids.key_id("ASIA")
        role_name = name_of(role.arn)
        req = {"roleArn": role.arn, "roleSessionName": session_name, "durationSeconds": duration}
        resp = {
            # CloudTrail logs the session token (never the secret key); a fake one, so redaction is exercised
            "credentials": {"accessKeyId": key, "sessionToken": _fake_token(key), "expiration": R.iso(t + duration)},
            "assumedRoleUser": {
                "assumedRoleId": f"{role.role_id}:{session_name}",
                "arn": assumed_role_arn(role.account_id, role_name, session_name),
            },
        }
        res = [{"accountId": role.account_id, "type": "AWS::IAM::Role", "ARN": role.arn}]
        shared = ids.uuid()
        first = self.call(
            ids,
            t,
            caller,
            "sts.amazonaws.com",
            "AssumeRole",
            ro=True,
            req=req,
            resp=resp,
            resources=res,
            shared=shared,
        )
        out = [first]
        if role.account_id != caller.account and caller.ident.get("type") != "AWSService":
            other = _Session(
                R.aws_account_identity(caller_principal_id or caller.ident.get("principalId", ""), caller.account),
                role.account_id,
                caller.ip,
                caller.ua,
            )
            second = self.call(
                ids,
                t,
                other,
                "sts.amazonaws.com",
                "AssumeRole",
                ro=True,
                req=req,
                resp=resp,
                resources=res,
                shared=shared,
                account=role.account_id,
            )
            second["requestID"] = first["requestID"]
            out.append(second)
        return out, key

    def role_session(
        self, role: Role, name: str, key: str, t: int, ip: str, ua: str, console: bool = False
    ) -> _Session:
        """A session of ``role`` named ``name`` holding the ASIA ``key`` issued at ``t``."""
        ident = R.assumed_role_identity(role.role_id, role.arn, role.account_id, name, key, R.iso(t))
        return _Session(
            ident,
            role.account_id,
            ip,
            ua,
            console,
            assumed_role_arn(role.account_id, name_of(role.arn), name),
        )

    # -- pools -----------------------------------------------------------------------------------
    def pools(self, rng: random.Random) -> _Pools:
        """Sort the org's principals into who-does-what, leaving the incident's identities out."""
        org, inc = self.org, self.inc
        excluded_users = {inc.user_arn, inc.created_user_arn} if inc else set()
        excluded_roles = {inc.target_role_arn, *inc.details.get("callers", ())} if inc else set()
        p = _Pools()
        for r in org.roles:
            if r.arn in excluded_roles or r.name == "OrganizationAccountAccessRole":
                continue
            if r.name.startswith("AWSReservedSSO_"):
                continue
            svcs = [s for s in _service_principals(r.trust_policy) if s.endswith(".amazonaws.com")]
            oidc = [f for f in _principals(r.trust_policy, "Federated") if ":oidc-provider/" in f]
            trusted = _trusted_accounts(r.trust_policy) & ({a.account_id for a in org.accounts} | {"*"})
            if svcs:
                p.service_roles.append((r, svcs[0]))
            elif oidc:
                p.oidc_roles.append((r, oidc[0]))
            elif trusted and r.purpose != "third-party":
                p.deploy_roles.append((r, trusted))
        for u in org.users:
            if u.arn in excluded_users or u.name.startswith("iamkit-"):  # the sandbox operator is not in the story
                continue
            key = next((k.access_key_id for k in u.access_keys if k.status == "Active"), None)
            if key:
                (p.dev_users if u.person else p.ci_users).append((u, key))
            if u.console:
                p.console_users.append(u)
        sso_roles: dict[tuple[str, str], Role] = {}
        for r in org.roles:
            if r.name.startswith("AWSReservedSSO_") and r.arn not in excluded_roles:
                ps = r.name[len("AWSReservedSSO_") :].rsplit("_", 1)[0]
                sso_roles.setdefault((r.account_id, ps), r)
        for person in org.people:
            if not person.enabled:
                continue
            names = {person.upn.lower(), *(g.lower() for g in person.groups)}
            for a in org.assignments:
                if a.principal_name.lower() in names or a.principal_id == person.identity_center_user_id:
                    role = sso_roles.get((a.account_id, a.permission_set))
                    if role is not None and (person, a.permission_set, role) not in p.sso:
                        p.sso.append((person, a.permission_set, role))
        return p

    # -- helpers for IPs and resources -----------------------------------------------------------
    def safe_ip(self, ip: str, salt: str = "") -> str:
        """``ip`` unless it is empty or the attacker's (benign activity must never come from there)."""
        n = 0
        while not ip or ip == self.attacker_ip:
            ip = _stable_ip(f"{salt}:{ip}:{n}", (198,), "198.18")
            n += 1
        return ip

    def resources_in(self, account: str, service: str, sensitive: bool = False) -> list:
        """Seeded resources of ``service`` in ``account`` (the sensitive ones only when asked for)."""
        return [
            r
            for r in self.org.resources
            if r.account_id == account and r.service == service and (sensitive or not r.sensitive)
        ]


# ============================================================================ the incident ==
# outcome each scripted record was written to have (the answer key's ground truth, independent of iamkit's reading)
OK, DENIED, FAILED = "ok", "denied", "failed"
ATTACKER_BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0"


def _no_params_when_denied(rec: dict) -> dict:
    """AWS writes most denied calls with ``requestParameters: null`` (EC2 keeps them): so do we."""
    if rec["eventSource"] != "ec2.amazonaws.com":
        rec["requestParameters"] = None
    return rec


def _console_identity(
    user_id: str, arn: str, account: str, name: str, key: str, created: str, mfa: bool = False
) -> dict:
    """An IAM user's console session: the user's identity signing with an ASIA key no STS record issued."""
    ident = R.iam_user_identity(user_id, arn, account, name, key)
    ident["sessionContext"] = {
        "sessionIssuer": {},
        "webIdFederationData": {},
        "attributes": {"creationDate": created, "mfaAuthenticated": "true" if mfa else "false"},
    }
    return ident


def _invoked_by(s: _Session, service: str) -> _Session:
    """The same caller, as an AWS service (``service`` or ``AWS Internal``) acting on its behalf records it."""
    ident = dict(s.ident)
    ident["invokedBy"] = service
    return _Session(ident, s.account, service, service, s.console, s.arn)


def _incident_records(g: _Gen) -> list[tuple[int, dict, str]]:
    """The compromised-access-key script, in order, from the attacker IP/UA; consistent with org.incident.
    Each record comes with the outcome it was written to have (``OK``, ``DENIED``, ``FAILED``)."""
    inc = g.inc
    assert inc is not None
    variant = inc.variant or "default"
    ids = R.Ids(random.Random(f"{g.seed}:incident"))
    org = g.org
    user = g.user_by_arn.get(inc.user_arn)
    dev = inc.account_id or (user.account_id if user else account_of(inc.user_arn))
    user_name = inc.user_name or name_of(inc.user_arn)
    user_id = user.user_id if user else ids.principal_id("AIDA")
    ip, ua = inc.attacker_ip, inc.attacker_user_agent
    me = _Session(
        R.iam_user_identity(user_id, inc.user_arn, dev, user_name, inc.leaked_access_key_id),
        dev,
        ip,
        ua,
        arn=inc.user_arn,
    )
    created_name = name_of(inc.created_user_arn) if inc.created_user_arn else "svc-backup-sync"
    created = g.user_by_arn.get(inc.created_user_arn)
    created_id = created.user_id if created else ids.principal_id("AIDA")
    created_arn = inc.created_user_arn or user_arn(dev, created_name)
    backdoor = _Session(
        R.iam_user_identity(created_id, created_arn, dev, created_name, inc.created_access_key_id),
        dev,
        ip,
        ua,
        arn=created_arn,
    )
    role = g.role_by_arn.get(inc.target_role_arn)
    if role is None:
        role = Role(
            account_of(inc.target_role_arn),
            name_of(inc.target_role_arn),
            inc.target_role_arn,
            ids.principal_id("AROA"),
            {},
        )
    prod = role.account_id

    def denied(s: _Session, action: str, resource: str = "*", why: str = "identity", code: str = "AccessDenied"):
        return code, R.denied_message(s.arn, action, resource, why)

    def ok(rec: dict) -> list[tuple[dict, str]]:
        return [(rec, OK)]

    def refused(rec: dict) -> list[tuple[dict, str]]:
        return [(_no_params_when_denied(rec), DENIED)]

    steps: list = []  # callables t -> list[(record, outcome)]
    add = steps.append
    add(lambda t: ok(g.call(ids, t, me, "sts.amazonaws.com", "GetCallerIdentity", ro=True)))
    discovery = [
        ("iam.amazonaws.com", "GetUser", None, None),
        ("iam.amazonaws.com", "ListAttachedUserPolicies", {"userName": user_name}, None),
        ("iam.amazonaws.com", "ListUserPolicies", {"userName": user_name}, None),
        ("iam.amazonaws.com", "ListGroupsForUser", {"userName": user_name}, None),
        (
            "iam.amazonaws.com",
            "GetAccountAuthorizationDetails",
            None,
            ("iam:GetAccountAuthorizationDetails", "AccessDenied"),
        ),
        ("iam.amazonaws.com", "ListUsers", None, None),
        ("iam.amazonaws.com", "ListRoles", None, None),
        ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.amazonaws.com"}, None),
        ("ec2.amazonaws.com", "DescribeRegions", {"regionSet": {}, "allRegions": True}, None),
        ("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}, "filterSet": {}}, None),
        (
            "secretsmanager.amazonaws.com",
            "ListSecrets",
            None,
            ("secretsmanager:ListSecrets", "AccessDeniedException"),
        ),
        (
            "organizations.amazonaws.com",
            "DescribeOrganization",
            None,
            ("organizations:DescribeOrganization", "AccessDeniedException"),
        ),
        (
            "organizations.amazonaws.com",
            "ListAccounts",
            None,
            ("organizations:ListAccounts", "AccessDeniedException"),
        ),
        ("cloudtrail.amazonaws.com", "DescribeTrails", {"includeShadowTrails": True}, None),
        (
            "guardduty.amazonaws.com",
            "ListDetectors",
            None,
            ("guardduty:ListDetectors", "AccessDeniedException"),
        ),
        ("lambda.amazonaws.com", "ListFunctions20150331", None, None),
        ("kms.amazonaws.com", "ListKeys", None, None),
    ]
    for src, name, req, deny in discovery:

        def step(t, src=src, name=name, req=req, deny=deny):
            if deny:
                return refused(g.call(ids, t, me, src, name, ro=True, req=req, error=denied(me, deny[0], code=deny[1])))
            return ok(g.call(ids, t, me, src, name, ro=True, req=req))

        add(step)
    burst_rng = random.Random(f"{g.seed}:burst")

    def enumeration_burst(t):
        """An enumeration tool sweeping read-only APIs within a couple of minutes, mostly denied; it goes too
        fast once (throttled, then retried)."""
        out = []
        for src, name, allowed in _ENUMERATION:
            svc = src.split(".", 1)[0]
            if (src, name) == _THROTTLED:
                throttled = g.call(ids, t, me, src, name, ro=True, error=("ThrottlingException", "Rate exceeded"))
                throttled["requestParameters"] = None
                out.append((throttled, FAILED))
                t += burst_rng.randrange(1, 3)
            req = _ENUMERATION_PARAMS.get(name) if svc == "ec2" else None
            if allowed:
                out.append((g.call(ids, t, me, src, name, ro=True, req=req), OK))
            else:
                err = denied(me, f"{svc}:{name}", code=_DENIED_CODE.get(svc, "AccessDeniedException"))
                out += refused(g.call(ids, t, me, src, name, ro=True, req=req, error=err))
            t += burst_rng.randrange(1, 5)
        return out

    add(enumeration_burst)
    # is the name free? (NoSuchEntity: an error that is not a denial)
    add(
        lambda t: [
            (
                g.call(
                    ids,
                    t,
                    me,
                    "iam.amazonaws.com",
                    "GetUser",
                    ro=True,
                    req={"userName": created_name},
                    error=("NoSuchEntityException", f"The user with name {created_name} cannot be found."),
                ),
                FAILED,
            )
        ]
    )
    add(
        lambda t: ok(
            g.call(
                ids,
                t,
                me,
                "iam.amazonaws.com",
                "CreateUser",
                ro=False,
                req={"userName": created_name},
                resp={
                    "user": {
                        "path": "/",
                        "userName": created_name,
                        "userId": created_id,
                        "arn": created_arn,
                        "createDate": _iam_date(t),
                    }
                },
            )
        )
    )
    add(
        lambda t: ok(
            g.call(
                ids,
                t,
                me,
                "iam.amazonaws.com",
                "CreateAccessKey",
                ro=False,
                req={"userName": created_name},
                resp={
                    "accessKey": {
                        "userName": created_name,
                        "accessKeyId": inc.created_access_key_id,
                        "status": "Active",
                        "createDate": _iam_date(t),
                    }
                },
            )
        )
    )
    add(
        lambda t: ok(
            g.call(
                ids,
                t,
                me,
                "iam.amazonaws.com",
                "AttachUserPolicy",
                ro=False,
                req={"userName": created_name, "policyArn": inc.admin_policy_arn},
            )
        )
    )
    if variant == "console":
        add(
            lambda t: ok(
                g.call(
                    ids,
                    t,
                    me,
                    "iam.amazonaws.com",
                    "CreateLoginProfile",
                    ro=False,
                    req={"userName": created_name, "passwordResetRequired": False},
                    resp={
                        "loginProfile": {
                            "userName": created_name,
                            "createDate": _iam_date(t),
                            "passwordResetRequired": False,
                        }
                    },
                )
            )
        )
    add(lambda t: ok(g.call(ids, t, backdoor, "sts.amazonaws.com", "GetCallerIdentity", ro=True)))
    add(
        lambda t: ok(
            g.call(
                ids,
                t,
                backdoor,
                "iam.amazonaws.com",
                "ListAttachedUserPolicies",
                ro=True,
                req={"userName": created_name},
            )
        )
    )
    session_holder: dict[str, _Session] = {}
    session_name = inc.session_name or "session"
    prod_ua = ua
    if variant == "console":
        prod_ua = _CONSOLE_UA
        holder: dict[str, _Session] = {}

        def console_login(t):
            ident = {
                k: v
                for k, v in R.iam_user_identity(created_id, created_arn, dev, created_name, "").items()
                if k != "accessKeyId"
            }
            s = _Session(ident, dev, ip, ATTACKER_BROWSER_UA, arn=created_arn)
            rec = g.call(
                ids,
                t,
                s,
                "signin.amazonaws.com",
                "ConsoleLogin",
                ro=False,
                resp={"ConsoleLogin": "Success"},
                region="us-east-1",
                add={
                    "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                    "MobileVersion": "No",
                    "MFAUsed": "No",
                },
                etype="AwsConsoleSignIn",
                tls=False,
            )
            holder["console"] = _Session(
                _console_identity(created_id, created_arn, dev, created_name, inc.console_access_key_id, R.iso(t)),
                dev,
                ip,
                _CONSOLE_UA,
                console=True,
                arn=created_arn,
            )
            return ok(rec)

        add(console_login)
        add(
            lambda t: ok(
                g.call(
                    ids,
                    t,
                    _Session(holder["console"].ident, dev, ip, ATTACKER_BROWSER_UA, True, created_arn),
                    "iam.amazonaws.com",
                    "GetAccountSummary",
                    ro=True,
                )
            )
        )
        add(lambda t: ok(g.call(ids, t, holder["console"], "iam.amazonaws.com", "ListUsers", ro=True)))
        # the console's own lookups on the user's behalf: AWS Internal as source and agent
        add(
            lambda t: ok(
                g.call(
                    ids,
                    t,
                    _invoked_by(holder["console"], _CONSOLE_UA),
                    "kms.amazonaws.com",
                    "ListAliases",
                    ro=True,
                    req={"limit": 100},
                )
            )
        )

    def assume(t):
        caller, caller_id = (holder["console"], created_id) if variant == "console" else (me, user_id)
        recs, issued = g.assume_role(ids, t, caller, role, session_name, 3600, caller_id)
        key = inc.session_access_key_id or issued
        # the incident's session key is the one the seeding got from moto: the records must name it
        recs[0]["responseElements"]["credentials"]["accessKeyId"] = key  # shared by both copies
        sess = g.role_session(role, session_name, key, t, ip, prod_ua, console=variant == "console")
        session_holder["s"] = sess
        return [(r, OK) for r in recs]

    add(assume)

    def in_prod(fn):
        return lambda t: fn(t, session_holder["s"])

    add(in_prod(lambda t, s: ok(g.call(ids, t, s, "sts.amazonaws.com", "GetCallerIdentity", ro=True))))
    add(
        in_prod(
            lambda t, s: ok(
                g.call(
                    ids,
                    t,
                    s,
                    "cloudtrail.amazonaws.com",
                    "DescribeTrails",
                    ro=True,
                    req={"includeShadowTrails": True},
                )
            )
        )
    )
    add(
        in_prod(
            lambda t, s: refused(
                g.call(
                    ids,
                    t,
                    s,
                    "cloudtrail.amazonaws.com",
                    "StopLogging",
                    ro=False,
                    req={"name": g.trail_arn},
                    error=denied(s, "cloudtrail:StopLogging", g.trail_arn, "scp"),
                )
            )
        )
    )
    if variant == "logging-succeeds" and inc.logging_trail_arn:
        selectors = [
            {
                "readWriteType": "All",
                "includeManagementEvents": False,
                "dataResources": [],
                "excludeManagementEventSources": [],
            }
        ]
        add(
            in_prod(
                lambda t, s: ok(
                    g.call(
                        ids,
                        t,
                        s,
                        "cloudtrail.amazonaws.com",
                        "PutEventSelectors",
                        ro=False,
                        req={"trailName": inc.logging_trail_arn, "eventSelectors": selectors},
                        resp={"trailARN": inc.logging_trail_arn, "eventSelectors": selectors},
                    )
                )
            )
        )
    add(in_prod(lambda t, s: ok(g.call(ids, t, s, "secretsmanager.amazonaws.com", "ListSecrets", ro=True))))
    for arn in inc.secret_arns:
        region = parse(arn).region or g.region
        owner = parse(arn).account or prod

        def read_secret(t, s, arn=arn, region=region, owner=owner):
            get = g.call(
                ids,
                t,
                s,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                ro=True,
                req={"secretId": arn},
                region=region,
                resources=[{"accountId": owner, "type": "AWS::SecretsManager::Secret", "ARN": arn}],
            )
            # Secrets Manager decrypts the value with KMS for the caller: same identity, the service as source
            key_arn = f"arn:aws:kms:{region}:{owner}:key/{ids.uuid()}"
            decrypt = g.call(
                ids,
                t,
                _invoked_by(s, "secretsmanager.amazonaws.com"),
                "kms.amazonaws.com",
                "Decrypt",
                ro=True,
                req={"encryptionContext": {"SecretARN": arn}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                region=region,
                resources=[{"accountId": owner, "type": "AWS::KMS::Key", "ARN": key_arn}],
            )
            return [(get, OK), (decrypt, OK)]

        add(in_prod(read_secret))
    add(
        in_prod(
            lambda t, s: ok(
                g.call(ids, t, s, "s3.amazonaws.com", "ListBuckets", ro=True, req={"Host": "s3.amazonaws.com"})
            )
        )
    )
    s3 = {r.name: r for r in org.resources if r.service == "s3"}
    listed: set[str] = set()
    for arn in inc.object_arns:
        bucket, key = _bucket_of(arn)
        res = s3.get(bucket)
        region = res.region if res else g.region
        owner = res.account_id if res else prod
        if bucket not in listed:
            listed.add(bucket)
            add(
                in_prod(
                    lambda t, s, b=bucket, rg=region, o=owner: ok(
                        _s3_call(g, ids, t, s, "ListObjects", b, None, rg, o, ro=True)
                    )
                )
            )
        add(
            in_prod(
                lambda t, s, b=bucket, k=key, rg=region, o=owner: ok(
                    _s3_call(g, ids, t, s, "GetObject", b, k, rg, o, ro=True)
                )
            )
        )

    start = _epoch(inc.start) if inc.start else 0
    end = _epoch(inc.end) if inc.end else start + 45 * 60
    if end <= start:
        end = start + 45 * 60
    rng = random.Random(f"{g.seed}:incident-times")
    n = len(steps)
    gap = (end - start) / max(1, n - 1)
    out: list[tuple[int, dict, str]] = []
    t_prev = start - 1
    for i, step in enumerate(steps):
        t = int(start + i * gap + rng.uniform(-0.3, 0.3) * gap) if 0 < i < n - 1 else (start if i == 0 else end)
        t = max(t, t_prev + 1)
        for r, outcome in step(t):
            t_prev = epoch_of(r["eventTime"])
            out.append((t_prev, r, outcome))
    return out


# what an enumeration tool (enumerate-iam, pacu …) sweeps: (eventSource, eventName, allowed for the leaked user)
_ENUMERATION = (
    ("iam.amazonaws.com", "ListAccessKeys", True),
    ("iam.amazonaws.com", "ListMFADevices", True),
    ("iam.amazonaws.com", "GetAccountSummary", False),
    ("iam.amazonaws.com", "GetAccountPasswordPolicy", False),
    ("iam.amazonaws.com", "ListPolicies", True),
    ("iam.amazonaws.com", "ListGroups", False),
    ("iam.amazonaws.com", "ListInstanceProfiles", False),
    ("iam.amazonaws.com", "ListSAMLProviders", False),
    ("iam.amazonaws.com", "ListOpenIDConnectProviders", False),
    ("iam.amazonaws.com", "ListVirtualMFADevices", False),
    ("iam.amazonaws.com", "GetCredentialReport", False),
    ("ec2.amazonaws.com", "DescribeVpcs", True),
    ("ec2.amazonaws.com", "DescribeSubnets", True),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", True),
    ("ec2.amazonaws.com", "DescribeSnapshots", False),
    ("ec2.amazonaws.com", "DescribeKeyPairs", False),
    ("rds.amazonaws.com", "DescribeDBInstances", False),
    ("dynamodb.amazonaws.com", "ListTables", True),
    ("sns.amazonaws.com", "ListTopics", True),
    ("sqs.amazonaws.com", "ListQueues", True),
    ("ecs.amazonaws.com", "ListClusters", False),
    ("eks.amazonaws.com", "ListClusters", False),
    ("ssm.amazonaws.com", "DescribeParameters", False),
    ("route53.amazonaws.com", "ListHostedZones", False),
    ("config.amazonaws.com", "DescribeConfigurationRecorders", False),
    ("kms.amazonaws.com", "ListAliases", True),
    ("cloudformation.amazonaws.com", "ListStacks", True),
    ("logs.amazonaws.com", "DescribeLogGroups", True),
    ("backup.amazonaws.com", "ListBackupVaults", False),
    ("sso.amazonaws.com", "ListInstances", False),
    ("securityhub.amazonaws.com", "DescribeHub", False),
    ("access-analyzer.amazonaws.com", "ListAnalyzers", False),
)
_THROTTLED = ("ec2.amazonaws.com", "DescribeSecurityGroups")  # the call the burst sends too fast once
# EC2 writes its (empty) request sets even for a bare Describe*
_ENUMERATION_PARAMS = {
    "DescribeVpcs": {"vpcSet": {}, "filterSet": {}},
    "DescribeSubnets": {"subnetSet": {}, "filterSet": {}},
    "DescribeSecurityGroups": {"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}},
    "DescribeSnapshots": {"snapshotSet": {}, "ownersSet": {"items": [{"owner": "self"}]}, "filterSet": {}},
    "DescribeKeyPairs": {"keySet": {}, "filterSet": {}},
}


_DENIED_CODE = {
    "iam": "AccessDenied",
    "sts": "AccessDenied",
    "s3": "AccessDenied",
    "rds": "AccessDenied",
    "sns": "AuthorizationError",
    "sqs": "AccessDenied",
    "ec2": "Client.UnauthorizedOperation",
    "route53": "AccessDenied",
    "cloudformation": "AccessDenied",
}


def _s3_call(
    g: _Gen,
    ids: R.Ids,
    t: int,
    s: _Session,
    name: str,
    bucket: str,
    key: str | None,
    region: str,
    owner: str,
    *,
    ro: bool,
    size: int = 0,
) -> dict:
    """An S3 data event (GetObject/PutObject/ListObjects) with its resources and additionalEventData."""
    req: dict[str, Any] = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com"}
    res: list[dict[str, str]] = []
    if key is not None:
        req["key"] = key
        res.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"})
    else:
        req["list-type"] = "2"
        req["prefix"] = ""
    res.append({"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"})
    add = {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": size if name == "PutObject" else 0,
        "AuthenticationMethod": "AuthHeader",
        "bytesTransferredOut": 0 if name == "PutObject" else (size or 2048),
    }
    return g.call(ids, t, s, "s3.amazonaws.com", name, ro=ro, req=req, region=region, data=True, resources=res, add=add)


# =============================================================== the leaked user's usual days ==
_DEV_CALLS = (
    ("sts.amazonaws.com", "GetCallerIdentity", None, "sts.get-caller-identity"),
    ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.amazonaws.com"}, "s3.ls"),
    ("lambda.amazonaws.com", "ListFunctions20150331", None, "lambda.list-functions"),
    ("logs.amazonaws.com", "DescribeLogGroups", None, "logs.describe-log-groups"),
    ("cloudformation.amazonaws.com", "DescribeStacks", None, "cloudformation.describe-stacks"),
    (
        "ec2.amazonaws.com",
        "DescribeInstances",
        {"instancesSet": {}, "filterSet": {}},
        "ec2.describe-instances",
    ),
    ("dynamodb.amazonaws.com", "ListTables", None, "dynamodb.list-tables"),
    ("ecr.amazonaws.com", "DescribeRepositories", None, "ecr.describe-repositories"),
)


def _dev_burst(
    g: _Gen, ids: R.Ids, rng: random.Random, t: int, s: _Session, n: int, ua_tmpl: str, t_max: int
) -> list[tuple[int, dict]]:
    """``n`` read-only CLI calls of a developer from their usual place, a few seconds to minutes apart."""
    out = []
    for _ in range(n):
        src, name, req, cmd = rng.choice(_DEV_CALLS)
        sess = _Session(s.ident, s.account, s.ip, ua_tmpl.format(cmd=cmd))
        out.append((min(t, t_max), g.call(ids, min(t, t_max), sess, src, name, ro=True, req=req)))
        t += rng.randrange(3, 240)
    return out


def _normal_records(g: _Gen, t0: int, t1: int) -> list[tuple[int, dict]]:
    """The leaked key's owner on ordinary working days: home IP, usual CLI user agent, same key."""
    inc = g.inc
    assert inc is not None
    rng = random.Random(f"{g.seed}:normal")
    ids = R.Ids(rng)
    user = g.user_by_arn.get(inc.user_arn)
    dev = inc.account_id or account_of(inc.user_arn)
    person = g.person_by_upn.get((user.person or "").lower()) if user else None
    ip = g.safe_ip(person.home_ip if person else "", inc.user_arn)
    ua = _CLI_UA[0]
    user_id = user.user_id if user else ""
    me = _Session(
        R.iam_user_identity(
            user_id,
            inc.user_arn,
            dev,
            inc.user_name or name_of(inc.user_arn),
            inc.leaked_access_key_id,
        ),
        dev,
        ip,
        ua,
    )
    inc_start = _epoch(inc.start) if inc.start else t1
    inc_end = _epoch(inc.end) if inc.end else inc_start
    out: list[tuple[int, dict]] = []
    day = t0 - t0 % _DAY
    while day < t1:
        if time.gmtime(day).tm_wday < 5:
            for _ in range(rng.choice((1, 2, 2, 3))):
                t = day + rng.randrange(8 * _HOUR, 18 * _HOUR)
                if t0 <= t < t1 and not (inc_start - _HOUR <= t <= inc_end + _HOUR):
                    out += _dev_burst(g, ids, rng, t, me, rng.randrange(2, 7), ua, t1)
        day += _DAY
    return out


# ===================================================================== the benign haystack ==
_APP_CALLS = {
    "lambda.amazonaws.com": ("secret", "kms", "ssm", "s3get", "s3put", "ddb", "logs", "sts"),
    "ec2.amazonaws.com": ("ssm_info", "ec2tags", "s3get", "kms", "ecr", "sts"),
    "ecs-tasks.amazonaws.com": ("ecr", "ecrimg", "logs", "secret", "s3put", "s3get"),
}
_DEFAULT_APP_CALLS = ("sts", "s3get", "kms", "ssm")


class _Benign:
    """Episodes of ordinary activity; each adds its records to ``self.out`` and returns how many."""

    def __init__(self, g: _Gen, rng: random.Random, t_end: int):
        self.g = g
        self.rng = rng
        self.ids = R.Ids(rng)
        self.t_end = t_end
        self.pools = g.pools(rng)
        self.out: list[tuple[int, dict]] = []
        self._ci_ip: dict[str, str] = {}
        self._home: dict[str, str] = {}
        self.kinds: list[str] = []
        self.weights: list[float] = []
        p = self.pools
        for kind, w, ok in (
            ("app", 45, p.service_roles),
            ("ci", 14, p.ci_users),
            ("dev", 10, p.dev_users),
            ("sso", 16, p.sso),
            ("console", 5, p.console_users),
            ("service", 8, True),
            ("root", 0.3, True),
            ("oidc", 5, p.oidc_roles),
            ("federated", 1.5, p.ci_users),
        ):
            if ok:
                self.kinds.append(kind)
                self.weights.append(w)

    def emit(self, t: int, rec: dict) -> None:
        self.out.append((min(t, self.t_end), rec))

    def episode(self, t: int, budget: int) -> int:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        return getattr(self, f"ep_{kind}")(t, budget)

    # -- resources (non-sensitive ones from the org, or a plausible name in the account) ----------
    def _bucket(self, account: str) -> tuple[str, str]:
        res = self.g.resources_in(account, "s3")
        if res:
            r = self.rng.choice(res)
            return r.name, r.region
        return f"app-artifacts-{account}", self.g.region

    def _secret(self, account: str, region: str) -> str:
        res = self.g.resources_in(account, "secretsmanager")
        if res:
            return self.rng.choice(res).arn
        return f"arn:aws:secretsmanager:{region}:{account}:secret:app/config-Xa9QzB"

    def _app_call(self, t: int, s: _Session, what: str, region: str) -> dict:
        g, ids, rng, acct = self.g, self.ids, self.rng, s.account
        if what == "secret":
            arn = self._secret(acct, region)
            return g.call(
                ids,
                t,
                s,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                ro=True,
                req={"secretId": arn},
                region=region,
                resources=[{"accountId": acct, "type": "AWS::SecretsManager::Secret", "ARN": arn}],
            )
        if what == "kms":
            key_arn = f"arn:aws:kms:{region}:{acct}:key/{ids.uuid()}"
            return g.call(
                ids,
                t,
                s,
                "kms.amazonaws.com",
                "Decrypt",
                ro=True,
                req={"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                region=region,
                resources=[{"accountId": acct, "type": "AWS::KMS::Key", "ARN": key_arn}],
            )
        if what == "ssm":
            return g.call(
                ids,
                t,
                s,
                "ssm.amazonaws.com",
                "GetParameter",
                ro=True,
                req={
                    "name": f"/app/{rng.choice(('db-host', 'feature-flags', 'api-url'))}",
                    "withDecryption": True,
                },
                region=region,
            )
        if what in ("s3get", "s3put"):
            bucket, b_region = self._bucket(acct)
            key = f"data/{time.strftime('%Y/%m/%d', time.gmtime(t))}/part-{rng.randrange(100000):05d}.json"
            return _s3_call(
                g,
                ids,
                t,
                s,
                "GetObject" if what == "s3get" else "PutObject",
                bucket,
                key,
                b_region,
                acct,
                ro=what == "s3get",
                size=rng.randrange(512, 65536),
            )
        if what == "ddb":
            return g.call(
                ids,
                t,
                s,
                "dynamodb.amazonaws.com",
                "DescribeTable",
                ro=True,
                req={"tableName": rng.choice(("orders", "sessions", "customers"))},
                region=region,
            )
        if what == "logs":
            return g.call(
                ids,
                t,
                s,
                "logs.amazonaws.com",
                "CreateLogStream",
                ro=False,
                req={"logGroupName": "/aws/app/worker", "logStreamName": ids.hex_upper(16).lower()},
                region=region,
            )
        if what == "ssm_info":
            return g.call(
                ids,
                t,
                s,
                "ssm.amazonaws.com",
                "UpdateInstanceInformation",
                ro=False,
                req={
                    "instanceId": s.ident["principalId"].split(":", 1)[1],
                    "agentVersion": "3.3.987.0",
                    "platformType": "Linux",
                },
                region=region,
            )
        if what == "ec2tags":
            return g.call(
                ids,
                t,
                s,
                "ec2.amazonaws.com",
                "DescribeTags",
                ro=True,
                req={"filterSet": {"items": [{"name": "resource-id"}]}},
                region=region,
            )
        if what == "ecr":
            return g.call(ids, t, s, "ecr.amazonaws.com", "GetAuthorizationToken", ro=True, region=region)
        if what == "ecrimg":
            return g.call(
                ids,
                t,
                s,
                "ecr.amazonaws.com",
                "BatchGetImage",
                ro=True,
                req={"repositoryName": "app", "imageIds": [{"imageTag": "latest"}], "registryId": acct},
                region=region,
            )
        return g.call(ids, t, s, "sts.amazonaws.com", "GetCallerIdentity", ro=True, region=region)

    # -- episodes --------------------------------------------------------------------------------
    def ep_app(self, t: int, budget: int) -> int:
        """A service (Lambda, EC2, ECS…) assumes its role, then the workload makes a handful of calls."""
        rng, ids = self.rng, self.ids
        role, svc = rng.choice(self.pools.service_roles)
        region = self.g.region if rng.random() < 0.8 else self.g.region2
        if svc == "ec2.amazonaws.com":
            session_name = "i-0" + ids.hex_upper(16).lower()
        elif svc == "lambda.amazonaws.com":
            session_name = f"{role.name[:48]}-fn"
        else:
            session_name = ids.hex_upper(32).lower()
        svc_s = _Session(R.aws_service_identity(svc), role.account_id, svc, svc)
        recs, key = self.g.assume_role(ids, t, svc_s, role, session_name)
        for r in recs:
            self.emit(t, r)
        n = len(recs)
        ip = self.g.safe_ip(
            f"{rng.choice((3, 18, 34, 44, 52, 54))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            role.arn,
        )
        s = self.g.role_session(role, session_name, key, t, ip, _SDK_UA.get(svc, _DEFAULT_SDK_UA))
        calls = _APP_CALLS.get(svc, _DEFAULT_APP_CALLS)
        span = rng.randrange(60, 3000)
        k = min(budget - n, rng.randrange(3, 16))
        i = 0
        while i < k:
            tc = t + 1 + (span * i) // max(1, k)
            what = rng.choice(calls)
            rec = self._noisy(self._app_call(tc, s, what, region), what)
            self.emit(tc, rec)
            i += 1
            if what == "secret" and "errorCode" not in rec and i < k:  # Secrets Manager decrypts for the app
                self.emit(tc, self._decrypt_for(tc, s, rec, region))
                i += 1
        return n + max(0, k)

    # what real trails are full of besides successes: throttling, NoSuch*/NotFound, the odd denial
    _NOT_FOUND = {
        "ddb": ("ResourceNotFoundException", "Requested resource not found: Table not found", 0.15),
        "ssm": ("ParameterNotFound", "", 0.15),
        "s3get": ("NoSuchKey", "The specified key does not exist.", 0.06),
        "secret": ("ResourceNotFoundException", "Secrets Manager can't find the specified secret.", 0.05),
    }

    def _noisy(self, rec: dict, what: str) -> dict:
        """Now and then turn an app call into a failure real trails show: not found (parameters kept),
        throttled or denied (both written with ``requestParameters: null``, as AWS does)."""
        roll = self.rng.random()
        nf = self._NOT_FOUND.get(what)
        if nf and roll < nf[2]:
            return R.with_error(
                rec, nf[0], nf[1] or f"Parameter {(rec['requestParameters'] or {}).get('name')} not found."
            )
        if roll > 0.95:
            out = R.with_error(rec, "ThrottlingException", "Rate exceeded")
            out["requestParameters"] = None
            return out
        if roll > 0.94 and what in ("secret", "ssm", "kms"):
            ident = rec["userIdentity"]
            action = {"secret": "secretsmanager:GetSecretValue", "ssm": "ssm:GetParameter", "kms": "kms:Decrypt"}[what]
            out = R.with_error(rec, "AccessDeniedException", R.denied_message(ident.get("arn", ""), action, "*"))
            out["requestParameters"] = None
            return out
        return rec

    def _decrypt_for(self, t: int, s: _Session, secret_call: dict, region: str) -> dict:
        """Secrets Manager calling KMS on the caller's behalf: its identity, ``invokedBy`` and the service as
        source IP and agent."""
        arn = secret_call["requestParameters"]["secretId"]
        return self.g.call(
            self.ids,
            t,
            _invoked_by(s, "secretsmanager.amazonaws.com"),
            "kms.amazonaws.com",
            "Decrypt",
            ro=True,
            req={"encryptionContext": {"SecretARN": arn}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
            region=region,
            resources=[
                {
                    "accountId": s.account,
                    "type": "AWS::KMS::Key",
                    "ARN": f"arn:aws:kms:{region}:{s.account}:key/{self.ids.uuid()}",
                }
            ],
        )

    def _ci_session(self, user: User, key: str) -> _Session:
        ip = self._ci_ip.get(user.arn)
        if ip is None:
            ip = self._ci_ip[user.arn] = self.g.safe_ip(_stable_ip(user.arn, (4, 20, 52)), user.arn)
        return _Session(
            R.iam_user_identity(user.user_id, user.arn, user.account_id, user.name, key),
            user.account_id,
            ip,
            _CI_UA.format(cmd="sts.get-caller-identity"),
            arn=user.arn,
        )

    def ep_ci(self, t: int, budget: int) -> int:
        """A CI pipeline: identity check, registry login, artifact upload, maybe a cross-account deploy."""
        rng, ids, g = self.rng, self.ids, self.g
        user, key = rng.choice(self.pools.ci_users)
        s = self._ci_session(user, key)
        n = 0
        self.emit(t, g.call(ids, t, s, "sts.amazonaws.com", "GetCallerIdentity", ro=True))
        n += 1
        if n < budget:
            t += rng.randrange(5, 60)
            self.emit(
                t,
                g.call(
                    ids,
                    t,
                    _Session(s.ident, s.account, s.ip, _CI_UA.format(cmd="ecr.get-login-password")),
                    "ecr.amazonaws.com",
                    "GetAuthorizationToken",
                    ro=True,
                ),
            )
            n += 1
        if n < budget:
            t += rng.randrange(30, 400)
            bucket, region = self._bucket(user.account_id)
            self.emit(
                t,
                _s3_call(
                    g,
                    ids,
                    t,
                    _Session(s.ident, s.account, s.ip, _CI_UA.format(cmd="s3.cp")),
                    "PutObject",
                    bucket,
                    f"builds/{ids.hex_upper(8).lower()}/app.zip",
                    region,
                    user.account_id,
                    ro=False,
                    size=rng.randrange(100_000, 9_000_000),
                ),
            )
            n += 1
        targets = [r for r, accts in self.pools.deploy_roles if user.account_id in accts or "*" in accts]
        if n < budget and targets and rng.random() < 0.5:
            role = rng.choice(targets)
            t += rng.randrange(5, 120)
            recs, sk = g.assume_role(
                ids,
                t,
                _Session(s.ident, s.account, s.ip, _CI_UA.format(cmd="sts.assume-role")),
                role,
                f"ci-{ids.hex_upper(8).lower()}",
                3600,
                user.user_id,
            )
            recs = recs[: budget - n]
            for r in recs:
                self.emit(t, r)
            n += len(recs)
            if len(recs) and n < budget:
                ds = g.role_session(
                    role,
                    recs[0]["requestParameters"]["roleSessionName"],
                    sk,
                    t,
                    s.ip,
                    _CI_UA.format(cmd="cloudformation.deploy"),
                )
                for name, ro in (
                    ("DescribeStacks", True),
                    ("CreateChangeSet", False),
                    ("DescribeChangeSet", True),
                    ("ExecuteChangeSet", False),
                ):
                    if n >= budget:
                        break
                    t += rng.randrange(2, 90)
                    self.emit(
                        t,
                        g.call(
                            ids,
                            t,
                            ds,
                            "cloudformation.amazonaws.com",
                            name,
                            ro=ro,
                            req={"stackName": "app-stack"},
                        ),
                    )
                    n += 1
        return n

    def ep_dev(self, t: int, budget: int) -> int:
        """A developer's CLI burst with their own key from their usual place."""
        rng = self.rng
        user, key = rng.choice(self.pools.dev_users)
        ip = self._home_ip(user.person or user.arn)
        s = _Session(
            R.iam_user_identity(user.user_id, user.arn, user.account_id, user.name, key),
            user.account_id,
            ip,
            "",
            arn=user.arn,
        )
        ua = _pick(_CLI_UA, user.arn)
        recs = _dev_burst(self.g, self.ids, rng, t, s, min(budget, rng.randrange(1, 8)), ua, self.t_end)
        if recs and rng.random() < 0.05:  # the odd honest AccessDenied
            t2, last = recs[-1]
            recs[-1] = (
                t2,
                self.g.call(
                    self.ids,
                    t2,
                    _Session(s.ident, s.account, ip, ua.format(cmd="iam.list-roles")),
                    "iam.amazonaws.com",
                    "ListRoles",
                    ro=True,
                    error=("AccessDenied", R.denied_message(user.arn, "iam:ListRoles", "*")),
                ),
            )
        for tr, r in recs:
            self.emit(tr, r)
        return len(recs)

    def _home_ip(self, who: str) -> str:
        ip = self._home.get(who)
        if ip is None:
            person = self.g.person_by_upn.get(who.lower())
            ip = person.home_ip if person else ""
            ip = self._home[who] = self.g.safe_ip(ip or _stable_ip(who, (), "192.0"), who)
        return ip

    def ep_sso(self, t: int, budget: int) -> int:
        """A person signs in through Identity Center, federates into an account, and works there."""
        rng, ids, g = self.rng, self.ids, self.g
        person, ps, role = rng.choice(self.pools.sso)
        ip = self._home_ip(person.upn)
        browser = _pick(_BROWSER_UA, person.upn)
        n = 0
        idc = sso_identity(g, ids, person, ip, browser)
        self.emit(t, sso_authenticate(g, ids, t, idc, person))
        n += 1
        if n < budget:
            t += rng.randrange(3, 30)
            self.emit(t, sso_federate(g, ids, t, idc, role, ps))
            n += 1
        if n >= budget:
            return n
        t += rng.randrange(1, 5)
        name = person.upn
        rec, key = sso_assume(g, ids, t, person, role, ip, browser)
        self.emit(t, rec)
        n += 1
        console = rng.random() < 0.6
        s = g.role_session(role, name, key, t, ip, _CONSOLE_UA if console else _CLI_UA[1].format(cmd="sso"), console)
        k = min(budget - n, rng.randrange(2, 14))
        admin = "Admin" in ps
        for _ in range(max(0, k)):
            t += rng.randrange(5, 240)
            roll = rng.random()
            if admin and roll < 0.1:
                rec = self._policy_change(t, s, role.account_id)
            elif admin and roll < 0.14:
                missing = f"app-{ids.hex_upper(4).lower()}-old"
                rec = R.with_error(
                    g.call(ids, t, s, "iam.amazonaws.com", "GetRole", ro=True, req={"roleName": missing}),
                    "NoSuchEntityException",
                    f"The role with name {missing} cannot be found.",
                )
            elif not admin and roll < 0.05:
                rec = R.with_error(
                    g.call(
                        ids,
                        t,
                        s,
                        "iam.amazonaws.com",
                        "CreateRole",
                        ro=False,
                        req={"roleName": "test-role", "assumeRolePolicyDocument": "{}"},
                    ),
                    "AccessDenied",
                    R.denied_message(s.arn, "iam:CreateRole", f"arn:aws:iam::{role.account_id}:role/test-role"),
                )
                rec["requestParameters"] = None
            else:
                src, ename, req, _cmd = rng.choice(_DEV_CALLS)
                rec = g.call(ids, t, s, src, ename, ro=True, req=req)
            self.emit(t, rec)
            n += 1
        return n

    def _policy_change(self, t: int, s: _Session, account: str) -> dict:
        """An admin's ordinary, narrow policy edit (documents as JSON strings, sometimes URL-encoded)."""
        rng, ids, g = self.rng, self.ids, self.g
        doc = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Resource": [
                            f"arn:aws:s3:::app-artifacts-{account}",
                            f"arn:aws:s3:::app-artifacts-{account}/*",
                        ],
                    }
                ],
            }
        )
        if rng.random() < 0.5:
            doc = quote(doc, safe="")
        if rng.random() < 0.5:
            name = f"app-read-{ids.hex_upper(4).lower()}"
            return g.call(
                ids,
                t,
                s,
                "iam.amazonaws.com",
                "CreatePolicy",
                ro=False,
                req={"policyName": name, "policyDocument": doc},
                resp={
                    "policy": {
                        "policyName": name,
                        "policyId": "ANPA" + ids.hex_upper(17),
                        "arn": f"arn:aws:iam::{account}:policy/{name}",
                        "path": "/",
                        "defaultVersionId": "v1",
                        "attachmentCount": 0,
                        "isAttachable": True,
                        "createDate": _iam_date(t),
                        "updateDate": _iam_date(t),
                    }
                },
            )
        role, _svc = rng.choice(self.pools.service_roles) if self.pools.service_roles else (None, "")
        role_name = role.name if role is not None and role.account_id == account else "app-reader"
        return g.call(
            ids,
            t,
            s,
            "iam.amazonaws.com",
            "PutRolePolicy",
            ro=False,
            req={"roleName": role_name, "policyName": "artifacts-read", "policyDocument": doc},
        )

    def ep_oidc(self, t: int, budget: int) -> int:
        """A GitHub Actions job federates through the OIDC provider (AssumeRoleWithWebIdentity) and deploys."""
        rng, ids, g = self.rng, self.ids, self.g
        role, provider = rng.choice(self.pools.oidc_roles)
        sub = _oidc_subject(role.trust_policy)
        ip = self._ci_ip.get(role.arn)
        if ip is None:
            ip = self._ci_ip[role.arn] = g.safe_ip(_stable_ip(role.arn, (4,)), role.arn)
        ua = (
            "aws-sdk-js/3.621.0 ua/2.0 os/linux#6.5.0-1025-azure lang/js md/nodejs#20.16.0 api/sts#3.621.0 "
            "configure-aws-credentials-for-github-actions"
        )
        key, name, duration = ids.key_id("ASIA"), "GitHubActions", 3600
        web = _Session(
            {
                "type": "WebIdentityUser",
                "principalId": f"{provider}:sts.amazonaws.com:{sub}",
                "userName": sub,
                "identityProvider": provider,
            },
            role.account_id,
            ip,
            ua,
        )
        self.emit(
            t,
            g.call(
                ids,
                t,
                web,
                "sts.amazonaws.com",
                "AssumeRoleWithWebIdentity",
                ro=True,
                req={"roleArn": role.arn, "roleSessionName": name, "durationSeconds": duration},
                resp={
                    # CloudTrail logs the session token (never the secret key); a fake one, so redaction is exercised
                    "credentials": {
                        "accessKeyId": key,
                        "sessionToken": _fake_token(key),
                        "expiration": R.iso(t + duration),
                    },
                    "subjectFromWebIdentityToken": sub,
                    "assumedRoleUser": {
                        "assumedRoleId": f"{role.role_id}:{name}",
                        "arn": assumed_role_arn(role.account_id, role.name, name),
                    },
                    "provider": provider,
                    "audience": "sts.amazonaws.com",
                },
                add={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
                resources=[{"accountId": role.account_id, "type": "AWS::IAM::Role", "ARN": role.arn}],
            ),
        )
        s = g.role_session(role, name, key, t, ip, _CI_UA.format(cmd="cloudformation.deploy"))
        s.ident["sessionContext"]["webIdFederationData"] = {"federatedProvider": provider, "attributes": {}}
        n = 1
        for src, ename, ro in (
            ("sts.amazonaws.com", "GetCallerIdentity", True),
            ("ecr.amazonaws.com", "GetAuthorizationToken", True),
            ("cloudformation.amazonaws.com", "DescribeStacks", True),
            ("cloudformation.amazonaws.com", "CreateChangeSet", False),
            ("cloudformation.amazonaws.com", "ExecuteChangeSet", False),
        ):
            if n >= budget:
                break
            t += rng.randrange(2, 120)
            req = {"stackName": "webapp"} if src.startswith("cloudformation") else None
            self.emit(t, g.call(ids, t, s, src, ename, ro=ro, req=req))
            n += 1
        return n

    def ep_console(self, t: int, budget: int) -> int:
        """An IAM user signs in to the console (with or without MFA; now and then a wrong password) and works
        there for a while."""
        rng, g = self.rng, self.g
        u = rng.choice(self.pools.console_users)
        ip = self._home_ip(u.person or u.arn)
        ok = rng.random() > 0.05
        ident = {
            k: v
            for k, v in R.iam_user_identity(u.user_id, u.arn, u.account_id, u.name, "").items()
            if k != "accessKeyId"
        }
        s = _Session(ident, u.account_id, ip, rng.choice(_BROWSER_UA))
        add = {
            "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
            "MobileVersion": "No",
            "MFAUsed": "Yes" if u.mfa else "No",
        }
        if u.mfa:
            add["MFAIdentifier"] = f"arn:aws:iam::{u.account_id}:mfa/{u.name}"
        rec = g.call(
            self.ids,
            t,
            s,
            "signin.amazonaws.com",
            "ConsoleLogin",
            ro=False,
            resp={"ConsoleLogin": "Success" if ok else "Failure"},
            region="us-east-1",
            add=add,
            etype="AwsConsoleSignIn",
            tls=False,
        )
        if not ok:  # a failed console sign-in has an errorMessage but no errorCode
            rec = R.with_error(rec, "", "Failed authentication")
            del rec["errorCode"]
            rec["responseElements"] = {"ConsoleLogin": "Failure"}
        self.emit(t, rec)
        if not ok or budget < 2:
            return 1
        return 1 + self._console_session(t, u, ip, s.ua, min(budget - 1, rng.randrange(3, 18)))

    _CONSOLE_CALLS = (
        ("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}, "filterSet": {}, "maxResults": 50}),
        ("ec2.amazonaws.com", "DescribeAddressTransfers", {"DescribeAddressTransfersRequest": {"MaxResults": 10}}),
        ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.amazonaws.com"}),
        ("iam.amazonaws.com", "GetAccountSummary", None),
        ("iam.amazonaws.com", "ListUsers", {"maxItems": 1000}),
        ("cloudtrail.amazonaws.com", "LookupEvents", {"maxResults": 50}),
        ("rds.amazonaws.com", "DescribeDBInstances", None),
        ("cloudwatch.amazonaws.com", "DescribeAlarms", {"maxRecords": 100}),
    )

    def _console_session(self, t: int, u: User, ip: str, browser: str, k: int) -> int:
        """An IAM user's console session: its calls sign with an ASIA key no STS record issued
        (``sessionCredentialFromConsole``); most carry ``AWS Internal`` as agent, some the browser's, and the
        console's own lookups come from ``AWS Internal`` or a service (``invokedBy``) rather than the user's IP."""
        rng, g = self.rng, self.g
        key = self.ids.key_id("ASIA")
        ident = _console_identity(u.user_id, u.arn, u.account_id, u.name, key, R.iso(t), u.mfa)
        s = _Session(ident, u.account_id, ip, _CONSOLE_UA, console=True, arn=u.arn)
        region = g.region
        for _ in range(k):
            t += rng.randrange(2, 90)
            roll = rng.random()
            if roll < 0.4:  # the console asking KMS / S3 for itself
                src, name, req = rng.choice(
                    (
                        ("kms.amazonaws.com", "ListAliases", {"limit": 100}),
                        ("kms.amazonaws.com", "DescribeKey", {"keyId": "alias/aws/s3"}),
                        ("s3.amazonaws.com", "GetStorageLensDashboardDataInternal", None),
                    )
                )
                rec = g.call(self.ids, t, _invoked_by(s, _CONSOLE_UA), src, name, ro=True, req=req, region=region)
            elif roll < 0.48:  # the health dashboard, through the health service
                rec = g.call(
                    self.ids,
                    t,
                    _invoked_by(s, "health.amazonaws.com"),
                    "health.amazonaws.com",
                    "DescribeEventAggregates",
                    ro=True,
                    req={"aggregateField": "eventTypeCategory"},
                    region="us-east-1",
                )
            else:
                src, name, req = rng.choice(self._CONSOLE_CALLS)
                who = s if roll < 0.85 else _Session(ident, u.account_id, ip, browser, console=True, arn=u.arn)
                rec = g.call(self.ids, t, who, src, name, ro=True, req=req, region=region)
            self.emit(t, rec)
        return k

    def ep_root(self, t: int, budget: int) -> int:
        """The management account's root signs in (with MFA) — rare, and legitimate here."""
        g = self.g
        s = _Session(
            {k: v for k, v in R.root_identity(g.mgmt).items() if k != "accessKeyId"},
            g.mgmt,
            self._home_ip("root@" + g.mgmt),
            _BROWSER_UA[0],
        )
        self.emit(
            t,
            g.call(
                self.ids,
                t,
                s,
                "signin.amazonaws.com",
                "ConsoleLogin",
                ro=False,
                resp={"ConsoleLogin": "Success"},
                region="us-east-1",
                etype="AwsConsoleSignIn",
                tls=False,
                add={
                    "LoginTo": "https://console.aws.amazon.com/console/home",
                    "MobileVersion": "No",
                    "MFAUsed": "Yes",
                },
            ),
        )
        return 1

    def ep_service(self, t: int, budget: int) -> int:
        """An AWS service acting on its own (AwsServiceEvent): key rotation, Identity Center token refresh."""
        rng, g = self.rng, self.g
        acct = rng.choice(g.org.accounts).account_id
        region = g.region if rng.random() < 0.8 else g.region2
        if rng.random() < 0.5:
            key_arn = f"arn:aws:kms:{region}:{acct}:key/{self.ids.uuid()}"
            s = _Session(
                {"accountId": acct, "invokedBy": "kms.amazonaws.com"},
                acct,
                "kms.amazonaws.com",
                "kms.amazonaws.com",
            )
            rec = g.call(
                self.ids,
                t,
                s,
                "kms.amazonaws.com",
                "RotateKey",
                ro=False,
                region=region,
                resources=[{"accountId": acct, "type": "AWS::KMS::Key", "ARN": key_arn}],
                shared=self.ids.uuid(),
                etype="AwsServiceEvent",
                tls=False,
            )
        else:
            s = _Session(
                {"accountId": acct, "invokedBy": "health.amazonaws.com"},
                acct,
                "health.amazonaws.com",
                "health.amazonaws.com",
            )
            rec = g.call(
                self.ids,
                t,
                s,
                "health.amazonaws.com",
                "AWSHealthEventPublished",
                ro=True,
                region=region,
                etype="AwsServiceEvent",
                tls=False,
            )
        self.emit(t, rec)
        return 1

    def ep_federated(self, t: int, budget: int) -> int:
        """A CI user hands a build step a federation token (GetFederationToken), which then reads an artifact."""
        rng, ids, g = self.rng, self.ids, self.g
        user, key = rng.choice(self.pools.ci_users)
        s = self._ci_session(user, key)
        name = f"build-{ids.hex_upper(6).lower()}"
        fkey = ids.key_id("ASIA")
        self.emit(
            t,
            g.call(
                ids,
                t,
                s,
                "sts.amazonaws.com",
                "GetFederationToken",
                ro=True,
                req={"name": name, "durationSeconds": 3600},
                resp={
                    "credentials": {"accessKeyId": fkey, "expiration": R.iso(t + 3600)},
                    "federatedUser": {
                        "federatedUserId": f"{user.account_id}:{name}",
                        "arn": f"arn:aws:sts::{user.account_id}:federated-user/{name}",
                    },
                    "packedPolicySize": 9,
                },
            ),
        )
        if budget < 2:
            return 1
        t += rng.randrange(2, 60)
        fs = _Session(
            R.federated_user_identity(user.account_id, name, fkey, s.ident, R.iso(t)),
            user.account_id,
            s.ip,
            _CI_UA.format(cmd="s3.cp"),
        )
        bucket, region = self._bucket(user.account_id)
        self.emit(
            t,
            _s3_call(
                g,
                ids,
                t,
                fs,
                "GetObject",
                bucket,
                f"builds/{name}/manifest.json",
                region,
                user.account_id,
                ro=True,
                size=rng.randrange(200, 4000),
            ),
        )
        return 2


def sso_identity(g: _Gen, ids: R.Ids, person: Person, ip: str, user_agent: str) -> _Session:
    """The Identity Center user ``person`` signing in to the access portal from ``ip``."""
    return _Session(
        R.identity_center_user_identity(g.mgmt, person.identity_center_user_id, g.idstore_arn, ids.uuid()),
        g.mgmt,
        ip,
        user_agent,
    )


def sso_authenticate(g: _Gen, ids: R.Ids, t: int, idc: _Session, person: Person) -> dict:
    """The access portal's ``Authenticate`` of ``person`` (in the management account)."""
    return g.call(
        ids,
        t,
        idc,
        "sso.amazonaws.com",
        "Authenticate",
        ro=False,
        add={"MFAUsed": "Yes" if person.mfa_methods else "No"},
        account=g.mgmt,
        tls=False,
    )


def sso_federate(g: _Gen, ids: R.Ids, t: int, idc: _Session, role: Role, permission_set: str) -> dict:
    """The access portal's ``Federate`` into ``role``'s account with ``permission_set``."""
    return g.call(
        ids,
        t,
        idc,
        "sso.amazonaws.com",
        "Federate",
        ro=False,
        req={"accountId": role.account_id, "roleName": permission_set},
        account=g.mgmt,
        tls=False,
    )


def sso_assume(g: _Gen, ids: R.Ids, t: int, person: Person, role: Role, ip: str, user_agent: str) -> tuple[dict, str]:
    """The ``AssumeRoleWithSAML`` that opens ``person``'s session of the ``AWSReservedSSO_…`` ``role``: the record
    and the session's (ASIA) key id; the session is named after the person's UPN, as Identity Center names it."""
    seeded = [f for f in _principals(role.trust_policy, "Federated") if ":saml-provider/" in f]
    provider_arn = (
        seeded[0] if seeded else f"arn:aws:iam::{role.account_id}:saml-provider/AWSSSO_{g.sso_hex}_DO_NOT_DELETE"
    )
    provider = name_of(provider_arn)
    qualifier = base64.b64encode(hashlib.sha1(f"{g.sso_hex}{role.account_id}/{provider}".encode()).digest()).decode()
    key = ids.key_id("ASIA")
    name = person.upn
    saml = _Session(R.saml_user_identity(f"{qualifier}:{name}", name, qualifier), role.account_id, ip, user_agent)
    duration = 43200
    rec = g.call(
        ids,
        t,
        saml,
        "sts.amazonaws.com",
        "AssumeRoleWithSAML",
        ro=True,
        req={
            "sAMLAssertionID": "_" + ids.uuid(),
            "roleSessionName": name,
            "roleArn": role.arn,
            "principalArn": provider_arn,
            "durationSeconds": duration,
        },
        resp={
            # CloudTrail logs the session token (never the secret key); a fake one, so redaction is exercised
            "credentials": {
                "accessKeyId": key,
                "sessionToken": _fake_token(key),
                "expiration": R.iso(t + duration),
            },
            "assumedRoleUser": {
                "assumedRoleId": f"{role.role_id}:{name}",
                "arn": assumed_role_arn(role.account_id, role.name, name),
            },
            "subject": name,
            "subjectType": "persistent",
            "issuer": f"https://portal.sso.{g.region}.amazonaws.com/saml/assertion/{qualifier}",
            "audience": "https://signin.aws.amazon.com/saml",
            "nameQualifier": qualifier,
        },
        resources=[
            {"ARN": role.arn, "accountId": role.account_id, "type": "AWS::IAM::Role"},
            {"ARN": provider_arn, "accountId": role.account_id, "type": "AWS::IAM::SAMLProvider"},
        ],
    )

    return rec, key


def _hour_quotas(total: int, t_start: int, hours: int) -> list[int]:
    """Split ``total`` events over ``hours`` by a working-week rhythm, exactly (largest remainders)."""
    weights = []
    for i in range(hours):
        tm = time.gmtime(t_start + i * _HOUR)
        w = 1.0 if 7 <= tm.tm_hour < 19 else 0.3
        weights.append(w * (0.4 if tm.tm_wday >= 5 else 1.0))
    s = sum(weights) or 1.0
    raw = [total * w / s for w in weights]
    q = [int(x) for x in raw]
    rest = total - sum(q)
    for i in sorted(range(hours), key=lambda i: (q[i] - raw[i], i))[:rest]:
        q[i] += 1
    return q


def _resolve_end(org: SeededOrg, end: datetime | None, scenario: str | None) -> int:
    if end is not None:
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        return int(end.timestamp())
    if scenario and org.incident and org.incident.end:
        t = _epoch(org.incident.end) + 2 * _HOUR
        return t - t % _HOUR
    t = int(time.time())
    return t - t % _HOUR


def _stream(
    org: SeededOrg,
    *,
    benign_events: int,
    days: int,
    end: datetime | None,
    seed: int,
    scenario: str | None,
    hours: tuple[int, int] | None = None,
) -> Iterator[tuple[int, str, dict]]:
    """(epoch, kind, record) in time order; kind is ``incident``, ``normal`` or ``benign``. ``hours`` = [a, b)
    limits the output to those hours (epoch // 3600) with the same records a full run has there: every hour's
    haystack is drawn from its own seeded RNG, and sessions spill at most into the next hour."""
    if benign_events < 0 or days <= 0:
        raise BadInput(f"benign_events must be >= 0 and days > 0 (got {benign_events}, {days})")
    g = _Gen(org, seed, scenario)
    t1 = _resolve_end(org, end, scenario)
    t0 = t1 - int(days * _DAY)
    fixed: list[tuple[int, str, dict]] = []
    if g.inc is not None:
        fixed += [(t, kind, r) for t, kind, r, _outcome in _scenario_records(g, t0, t1)]
    pending: dict[int, list[tuple[int, int, str, dict]]] = {}
    seq = 0
    for t, kind, rec in fixed:
        pending.setdefault(t // _HOUR, []).append((t, seq, kind, rec))
        seq += 1
    h0, h1 = t0 // _HOUR, (t1 - 1) // _HOUR
    n_hours = h1 - h0 + 1
    quotas = _hour_quotas(benign_events, h0 * _HOUR, n_hours)
    first = min([h0, *pending])
    last = max([h1 + 2, *pending])
    a, b = hours if hours is not None else (first, last + 1)
    ben = _Benign(g, random.Random(), t1 - 1)
    g.t_max = t1 - 1
    for h in range(max(first, a - 1), min(last, b - 1) + 1):
        i = h - h0
        if 0 <= i < n_hours and quotas[i]:
            ben.rng.seed(f"{seed}:benign:{h}")
            budget = quotas[i]
            lo = max(h * _HOUR, t0)
            hi = min((h + 1) * _HOUR, t1)
            while budget > 0:
                budget -= ben.episode(ben.rng.randrange(lo, hi), budget)
            for t, rec in ben.out:
                pending.setdefault(t // _HOUR, []).append((t, seq, "benign", rec))
                seq += 1
            ben.out.clear()
        bucket = pending.pop(h, None)
        if bucket and a <= h < b:
            bucket.sort(key=lambda x: (x[0], x[1]))
            for t, _s, kind, rec in bucket:
                yield t, kind, rec
    for h in sorted(pending):  # nothing should be left; kept for safety, still in order
        if a <= h < b:
            for t, _s, kind, rec in sorted(pending[h], key=lambda x: (x[0], x[1])):
                yield t, kind, rec


def scenario_records(
    org: SeededOrg, *, days: int = 14, end: datetime | None = None, seed: int = 7
) -> list[tuple[int, str, dict, str]]:
    """The scenario's own records, oldest first: the incident (kind ``incident``) and the leaked key's owner at
    work (``normal``), each with the outcome it was written to have (``ok``, ``denied`` or ``failed``) — the
    ground truth answer keys and the coherence test start from. The same records ``generate`` writes."""
    if org.incident is None:
        return []
    g = _Gen(org, seed, org.incident.scenario)
    t1 = _resolve_end(org, end, org.incident.scenario)
    t0 = t1 - int(days * _DAY)
    return sorted(_scenario_records(g, t0, t1), key=lambda x: x[0])


def _scenario_records(g: _Gen, t0: int, t1: int) -> list[tuple[int, str, dict, str]]:
    """(epoch, kind, record, outcome) of the scenario ``g`` plays: the incident and, for a leaked key, its owner's
    usual work (``normal``)."""
    if g.inc is not None and g.inc.scenario == "cross-account-trust-exposure":
        return [(t, "incident", r, o) for t, r, o in _trust_records(g)]
    if g.inc is not None and g.inc.scenario == "logging-tampering":
        return [(t, "incident", r, o) for t, r, o in _tamper_records(g)]
    if g.inc is not None and g.inc.scenario == "root-activity":
        return [(t, "incident", r, o) for t, r, o in _root_records(g)]
    if g.inc is not None and g.inc.scenario == "privilege-escalation":
        return [(t, "incident", r, o) for t, r, o in _privesc_records(g)]
    if g.inc is not None and g.inc.scenario == "resource-exposure":
        return [(t, "incident", r, o) for t, r, o in _exposure_records(g)]
    if g.inc is not None and g.inc.scenario == "compromised-entra-user":
        usual, incident = _entra_user_records(g)
        return [*((t, "normal", r, o) for t, r, o in usual), *((t, "incident", r, o) for t, r, o in incident)]
    if g.inc is not None and g.inc.scenario == "suspicious-role-session":  # the pipelines are the role's usual work
        return [
            *((t, "normal", r, o) for t, r, o in _trust_records(g)),
            *((t, "incident", r, o) for t, r, o in _session_records(g)),
        ]
    out = [(t, "incident", r, o) for t, r, o in _incident_records(g)]
    return out + [(t, "normal", r, OK) for t, r in _normal_records(g, t0, t1)]


def _exposure_records(g: _Gen) -> list[tuple[int, dict, str]]:
    """resource-exposure: the leaked key assumes prod-deploy, its session puts a public bucket policy on the
    reports bucket; anonymous callers then read reports (S3 data events, ``AWSAccount``/``anonymous``)."""
    inc = g.inc
    assert inc is not None
    ids = R.Ids(random.Random(f"{g.seed}:exposure"))
    at = {k: _epoch(v) for k, v in inc.details["times"].items()}
    user = g.user_by_arn.get(inc.user_arn)
    dev, prod = account_of(inc.user_arn), inc.account_id
    bucket = inc.details["bucket"]
    me = _Session(
        R.iam_user_identity(
            user.user_id if user else ids.principal_id("AIDA"),
            inc.user_arn,
            dev,
            inc.user_name,
            inc.leaked_access_key_id,
        ),
        dev,
        inc.attacker_ip,
        inc.attacker_user_agent,
        arn=inc.user_arn,
    )
    role = g.role_by_arn[inc.target_role_arn]
    recs, key = g.assume_role(ids, at["assume"], me, role, inc.session_name)
    out: list[tuple[int, dict, str]] = [(at["assume"], r, OK) for r in recs]
    s = g.role_session(role, inc.session_name, key, at["assume"], inc.attacker_ip, inc.attacker_user_agent)
    put = g.call(
        ids,
        at["put_policy"],
        s,
        "s3.amazonaws.com",
        "PutBucketPolicy",
        ro=False,
        req={
            "bucketName": bucket,
            "Host": f"{bucket}.s3.amazonaws.com",
            "policy": quote(json.dumps(inc.details["policy"]), safe=""),
        },
        resources=[{"accountId": prod, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}],
    )
    out.append((at["put_policy"], put, OK))
    for read in inc.details["reads"]:
        t = _epoch(read["time"])
        anon = _Session(R.aws_account_identity("", "anonymous"), prod, read["ip"], _BROWSER_UA[0])
        out.append((t, _s3_call(g, ids, t, anon, "GetObject", bucket, read["key"], g.region, prod, ro=True), OK))
    return out


def _session_records(g: _Gen) -> list[tuple[int, dict, str]]:
    """suspicious-role-session: the leaked key (attacker IP and agent) assumes the pipelines' role; its session
    checks who it is, reads the database password and lists the buckets."""
    inc = g.inc
    assert inc is not None
    ids = R.Ids(random.Random(f"{g.seed}:session"))
    at = {k: _epoch(v) for k, v in inc.details["times"].items()}
    user = g.user_by_arn.get(inc.user_arn)
    dev = account_of(inc.user_arn)
    me = _Session(
        R.iam_user_identity(
            user.user_id if user else ids.principal_id("AIDA"),
            inc.user_arn,
            dev,
            inc.user_name,
            inc.leaked_access_key_id,
        ),
        dev,
        inc.attacker_ip,
        inc.attacker_user_agent,
        arn=inc.user_arn,
    )
    role = g.role_by_arn[inc.target_role_arn]
    recs, key = g.assume_role(ids, at["assume"], me, role, inc.session_name)
    out: list[tuple[int, dict, str]] = [(at["assume"], r, OK) for r in recs]
    s = g.role_session(role, inc.session_name, key, at["assume"], inc.attacker_ip, inc.attacker_user_agent)
    out.append((at["whoami"], g.call(ids, at["whoami"], s, "sts.amazonaws.com", "GetCallerIdentity", ro=True), OK))
    out.append(
        (
            at["secret"],
            g.call(
                ids,
                at["secret"],
                s,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                ro=True,
                req={"secretId": inc.secret_arns[0]},
            ),
            OK,
        )
    )
    out.append(
        (
            at["buckets"],
            g.call(ids, at["buckets"], s, "s3.amazonaws.com", "ListBuckets", ro=True, req={"Host": "s3.amazonaws.com"}),
            OK,
        )
    )
    return out


def _sso_visit(
    g: _Gen, ids: R.Ids, person: Person, role: Role, permission_set: str, ip: str, ua: str, at: dict[str, int]
) -> tuple[list[tuple[int, dict, str]], _Session]:
    """``person`` signs in to the access portal from ``ip`` (``at['authenticate']``), federates into ``role``
    (``at['federate']``, ``at['assume']``): the three records and the session opened."""
    idc = sso_identity(g, ids, person, ip, ua)
    rec, key = sso_assume(g, ids, at["assume"], person, role, ip, ua)
    out = [
        (at["authenticate"], sso_authenticate(g, ids, at["authenticate"], idc, person), OK),
        (at["federate"], sso_federate(g, ids, at["federate"], idc, role, permission_set), OK),
        (at["assume"], rec, OK),
    ]
    return out, g.role_session(role, person.upn, key, at["assume"], ip, ua, True)


def _entra_user_records(g: _Gen) -> tuple[list[tuple[int, dict, str]], list[tuple[int, dict, str]]]:
    """compromised-entra-user: (the person's own visit the day before, from home; the incident) — the
    taken-over person signs in to the access portal from the attacker's IP, federates into Prod with the planned
    permission set, and its session makes the planned calls."""
    inc = g.inc
    assert inc is not None
    d = inc.details
    ids = R.Ids(random.Random(f"{g.seed}:entra-user"))
    at = {k: _epoch(v) for k, v in d["times"].items()}
    person = g.person_by_upn[d["upn"].lower()]
    role = g.role_by_arn[inc.target_role_arn]
    home = g.safe_ip(person.home_ip or _stable_ip(person.upn, (), "192.0"), person.upn)
    u = at["usual"]
    usual, s = _sso_visit(
        g,
        ids,
        person,
        role,
        d["permission_set"],
        home,
        _pick(_BROWSER_UA, person.upn),
        {"authenticate": u, "federate": u + 9, "assume": u + 12},
    )
    for i, (source, name) in enumerate(
        (("ec2.amazonaws.com", "DescribeInstances"), ("s3.amazonaws.com", "ListBuckets"))
    ):
        t = u + 60 * (i + 1)
        usual.append((t, g.call(ids, t, s, source, name, ro=True), OK))
    out, s = _sso_visit(g, ids, person, role, d["permission_set"], inc.attacker_ip, inc.attacker_user_agent, at)
    reqs = {
        "GetSecretValue": {"secretId": inc.secret_arns[0]},
        "ListBuckets": {"Host": "s3.amazonaws.com"},
    }
    for step, source, name in d["calls"]:
        out.append((at[step], g.call(ids, at[step], s, source, name, ro=True, req=reqs.get(name)), OK))
    return usual, out


def _privesc_records(g: _Gen) -> list[tuple[int, dict, str]]:
    """privilege-escalation: the CI user's key (attacker IP and agent) looks at its policies, writes a new default
    version of its own policy (``*`` on ``*``), attaches AdministratorAccess to a Lambda role and puts an inline
    PassRole-on-``*`` policy on it, then lists secrets; documents written URL-encoded, as CloudTrail does."""
    inc = g.inc
    assert inc is not None
    ids = R.Ids(random.Random(f"{g.seed}:privesc"))
    at = {k: _epoch(v) for k, v in inc.details["times"].items()}
    user = g.user_by_arn.get(inc.user_arn)
    acct = inc.account_id
    me = _Session(
        R.iam_user_identity(
            user.user_id if user else ids.principal_id("AIDA"),
            inc.user_arn,
            acct,
            inc.user_name,
            inc.leaked_access_key_id,
        ),
        acct,
        inc.attacker_ip,
        inc.attacker_user_agent,
        arn=inc.user_arn,
    )
    docs = inc.details["documents"]
    role = name_of(inc.target_role_arn)
    iam = "iam.amazonaws.com"
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"

    def rec(step: str, source: str, name: str, ro: bool, req: dict | None = None, resp: dict | None = None):
        return at[step], g.call(ids, at[step], me, source, name, ro=ro, req=req, resp=resp), OK

    return [
        rec("whoami", "sts.amazonaws.com", "GetCallerIdentity", True),
        rec("policies", iam, "ListAttachedUserPolicies", True, {"userName": inc.user_name}),
        rec(
            "new_version",
            iam,
            "CreatePolicyVersion",
            False,
            {
                "policyArn": inc.details["policy_arn"],
                "policyDocument": quote(json.dumps(docs["star"]), safe=""),
                "setAsDefault": True,
            },
            {
                "policyVersion": {
                    "versionId": inc.details["version_id"],
                    "isDefaultVersion": True,
                    "createDate": _iam_date(at["new_version"]),
                }
            },
        ),
        rec("attach", iam, "AttachRolePolicy", False, {"roleName": role, "policyArn": admin}),
        rec(
            "put_inline",
            iam,
            "PutRolePolicy",
            False,
            {
                "roleName": role,
                "policyName": inc.details["inline_policy"],
                "policyDocument": quote(json.dumps(docs["passrole"]), safe=""),
            },
        ),
        rec("secrets", "secretsmanager.amazonaws.com", "ListSecrets", True),
    ]


def _root_records(g: _Gen) -> list[tuple[int, dict, str]]:
    """root-activity: the root user's console sign-in without MFA, its console calls, the root access key it
    creates, and that key's calls from the command line (one creates an IAM user)."""
    inc = g.inc
    assert inc is not None
    ids = R.Ids(random.Random(f"{g.seed}:root"))
    at = {k: _epoch(v) for k, v in inc.details["times"].items()}
    acct, root = inc.account_id, inc.user_arn
    ip = inc.attacker_ip
    signin = _Session(
        {k: v for k, v in R.root_identity(acct).items() if k != "accessKeyId"}, acct, ip, ATTACKER_BROWSER_UA, arn=root
    )
    login = g.call(
        ids,
        at["login"],
        signin,
        "signin.amazonaws.com",
        "ConsoleLogin",
        ro=False,
        resp={"ConsoleLogin": "Success"},
        region="us-east-1",
        add={
            "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
            "MobileVersion": "No",
            "MFAUsed": "No",
        },
        etype="AwsConsoleSignIn",
        tls=False,
    )
    ident = R.root_identity(acct, inc.console_access_key_id)
    ident["sessionContext"] = {
        "sessionIssuer": {},
        "webIdFederationData": {},
        "attributes": {"creationDate": R.iso(at["login"]), "mfaAuthenticated": "false"},
    }
    console = _Session(ident, acct, ip, ATTACKER_BROWSER_UA, console=True, arn=root)
    cli = _Session(R.root_identity(acct, inc.created_access_key_id), acct, ip, inc.attacker_user_agent, arn=root)
    name = name_of(inc.created_user_arn)
    return [
        (at["login"], login, OK),
        (at["summary"], g.call(ids, at["summary"], console, "iam.amazonaws.com", "GetAccountSummary", ro=True), OK),
        (at["list_users"], g.call(ids, at["list_users"], console, "iam.amazonaws.com", "ListUsers", ro=True), OK),
        (
            at["create_key"],
            g.call(
                ids,
                at["create_key"],
                console,
                "iam.amazonaws.com",
                "CreateAccessKey",
                ro=False,
                req={},
                resp={
                    "accessKey": {
                        "accessKeyId": inc.created_access_key_id,
                        "status": "Active",
                        "createDate": _iam_date(at["create_key"]),
                    }
                },
            ),
            OK,
        ),
        (at["whoami"], g.call(ids, at["whoami"], cli, "sts.amazonaws.com", "GetCallerIdentity", ro=True), OK),
        (
            at["buckets"],
            g.call(
                ids, at["buckets"], cli, "s3.amazonaws.com", "ListBuckets", ro=True, req={"Host": "s3.amazonaws.com"}
            ),
            OK,
        ),
        (
            at["create_user"],
            g.call(
                ids,
                at["create_user"],
                cli,
                "iam.amazonaws.com",
                "CreateUser",
                ro=False,
                req={"userName": name},
                resp={
                    "user": {
                        "userName": name,
                        "arn": inc.created_user_arn,
                        "path": "/",
                        "createDate": _iam_date(at["create_user"]),
                    }
                },
            ),
            OK,
        ),
    ]


def _tamper_records(g: _Gen) -> list[tuple[int, dict, str]]:
    """logging-tampering: the leaked key (attacker IP and agent) assumes the Prod operations role; its session
    looks at the guardrails, is refused StopLogging by the SCP, then turns off log file validation, deletes the
    GuardDuty detector and stops the Config recorder, at the times the scenario planned."""
    inc = g.inc
    assert inc is not None
    ids = R.Ids(random.Random(f"{g.seed}:tamper"))
    at = {k: _epoch(v) for k, v in inc.details["times"].items()}
    user = g.user_by_arn.get(inc.user_arn)
    dev = account_of(inc.user_arn)
    me = _Session(
        R.iam_user_identity(
            user.user_id if user else ids.principal_id("AIDA"),
            inc.user_arn,
            dev,
            inc.user_name,
            inc.leaked_access_key_id,
        ),
        dev,
        inc.attacker_ip,
        inc.attacker_user_agent,
        arn=inc.user_arn,
    )
    role = g.role_by_arn[inc.target_role_arn]
    recs, key = g.assume_role(ids, at["assume"], me, role, inc.session_name)
    out: list[tuple[int, dict, str]] = [(at["assume"], r, OK) for r in recs]
    s = g.role_session(role, inc.session_name, key, at["assume"], inc.attacker_ip, inc.attacker_user_agent)
    trail = inc.logging_trail_arn
    ct, gd, cfg = "cloudtrail.amazonaws.com", "guardduty.amazonaws.com", "config.amazonaws.com"

    def call(step: str, source: str, name: str, ro: bool, req: dict | None = None, resp: dict | None = None):
        out.append((at[step], g.call(ids, at[step], s, source, name, ro=ro, req=req, resp=resp), OK))

    call("describe", ct, "DescribeTrails", True, {"trailNameList": [], "includeShadowTrails": True})
    refused = g.call(
        ids,
        at["stop"],
        s,
        ct,
        "StopLogging",
        ro=False,
        req={"name": trail},
        error=("AccessDenied", R.denied_message(s.arn, "cloudtrail:StopLogging", trail, "scp")),
    )
    out.append((at["stop"], _no_params_when_denied(refused), DENIED))
    call(
        "update",
        ct,
        "UpdateTrail",
        False,
        {"name": trail, "enableLogFileValidation": False},
        {"name": name_of(trail), "trailARN": trail, "logFileValidationEnabled": False},
    )
    call("list_detectors", gd, "ListDetectors", True)
    call("delete_detector", gd, "DeleteDetector", False, {"detectorId": inc.details["detector_id"]})
    call("describe_recorders", cfg, "DescribeConfigurationRecorders", True)
    call(
        "stop_recorder", cfg, "StopConfigurationRecorder", False, {"configurationRecorderName": inc.details["recorder"]}
    )
    return out


def _trust_records(g: _Gen) -> list[tuple[int, dict, str]]:
    """cross-account-trust-exposure: each planned use (``incident.details.uses``) is the pipeline's service
    assuming the pipeline role, the pipeline session assuming ``prod-deploy`` across accounts (both accounts'
    copies), and the deployment's calls in Prod (who it is, the stacks, one artifact written)."""
    inc = g.inc
    assert inc is not None
    ids = R.Ids(random.Random(f"{g.seed}:trust"))
    target = g.role_by_arn[inc.target_role_arn]
    out: list[tuple[int, dict, str]] = []
    for use in inc.details.get("uses", []):
        t = _epoch(use["time"])
        caller = g.role_by_arn[use["caller"]]
        svc = use["service"]
        svc_s = _Session(R.aws_service_identity(svc), caller.account_id, svc, svc)
        recs, key = g.assume_role(ids, t - 2, svc_s, caller, use["session_name"])
        out += [(t - 2, r, OK) for r in recs]
        ip = _stable_ip(caller.arn, (3, 18, 34, 44, 52, 54))
        ua = _SDK_UA.get(svc, _DEFAULT_SDK_UA)
        pipeline = g.role_session(caller, use["session_name"], key, t - 2, ip, ua)
        recs, prod_key = g.assume_role(
            ids, t, pipeline, target, use["session_name"], caller_principal_id=pipeline.ident.get("principalId", "")
        )
        out += [(t, r, OK) for r in recs]
        deploy = g.role_session(target, use["session_name"], prod_key, t, ip, ua)
        out.append((t + 3, g.call(ids, t + 3, deploy, "sts.amazonaws.com", "GetCallerIdentity", ro=True), OK))
        out.append(
            (
                t + 9,
                g.call(
                    ids,
                    t + 9,
                    deploy,
                    "cloudformation.amazonaws.com",
                    "DescribeStacks",
                    ro=True,
                    req={"stackName": f"{caller.name}-app"},
                ),
                OK,
            )
        )
    return out


def _hour_span(
    org: SeededOrg, *, days: int, end: datetime | None, seed: int, scenario: str | None
) -> tuple[int, int, int]:
    """(first hour, last hour + 1, trail end epoch) a full ``_stream`` covers; splits work between processes."""
    t1 = _resolve_end(org, end, scenario)
    t0 = t1 - int(days * _DAY)
    first, last = t0 // _HOUR, (t1 - 1) // _HOUR + 2
    inc = org.incident if scenario else None
    if inc is not None and inc.start:
        first = min(first, _epoch(inc.start) // _HOUR)
        last = max(last, (_epoch(inc.end) if inc.end else _epoch(inc.start) + _HOUR) // _HOUR + 1)
    return first, last + 1, t1


def generate(
    org: SeededOrg,
    *,
    benign_events: int = 5000,
    days: int = 14,
    end: datetime | None = None,
    seed: int = 7,
    scenario: str | None = "compromised-access-key",
) -> Iterator[dict]:
    """Stream raw CloudTrail records (time order): the scenario's incident, the leaked user's usual activity
    and ``benign_events`` benign records over ``days`` days ending at ``end`` (default: just after the incident)."""
    for _t, _k, rec in _stream(org, benign_events=benign_events, days=days, end=end, seed=seed, scenario=scenario):
        yield rec


# ================================================================================ writing ==
def log_key(org_id: str, account: str, region: str, window_start: int, tail: str) -> str:
    """Organization-trail object key of a log file delivered for ``window_start`` (epoch seconds)."""
    tm = time.gmtime(window_start)
    stamp = time.strftime("%Y%m%dT%H%MZ", tm)
    return (
        f"AWSLogs/{org_id}/{account}/CloudTrail/{region}/{tm.tm_year:04d}/{tm.tm_mon:02d}/{tm.tm_mday:02d}/"
        f"{account}_CloudTrail_{region}_{stamp}_{tail}.json.gz"
    )


def _gzip(data: bytes, level: int) -> bytes:
    """gzip with a zero mtime so the same records give the same bytes."""
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


class _S3Sink:
    """Bounded parallel put_object to the trail bucket; failures are collected, not swallowed."""

    def __init__(self, client: Any, bucket: str, workers: int = 8, in_flight: int = 64):
        self.client, self.bucket = client, bucket
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trailgen-s3")
        self.futures: dict[Future, str] = {}
        self.in_flight = in_flight
        self.errors: list[dict[str, str]] = []

    def put(self, key: str, body: bytes) -> None:
        if len(self.futures) >= self.in_flight:
            self._drain(FIRST_COMPLETED)
        fut = self.pool.submit(
            self.client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ContentEncoding="gzip",
        )
        self.futures[fut] = key

    def _drain(self, how: str) -> None:
        done, _ = wait(list(self.futures), return_when=how)
        for f in done:
            key = self.futures.pop(f)
            exc = f.exception()
            if exc is not None:
                self.errors.append({"key": f"s3://{self.bucket}/{key}", "error": f"{type(exc).__name__}: {exc}"})

    def close(self) -> None:
        if self.futures:
            self._drain(ALL_COMPLETED)
        self.pool.shutdown(wait=True)


class _FileSink:
    """Compresses and stores log files on a background thread (zlib and file I/O release the GIL, so this
    overlaps with generation); a failing file is listed in ``errors`` and the rest still get written."""

    def __init__(self, dest_dir: Path | None, s3: _S3Sink | None, level: int, queue_size: int = 32):
        self.dest_dir, self.s3, self.level = dest_dir, s3, level
        self.q: queue.Queue = queue.Queue(maxsize=queue_size)
        self.errors: list[dict[str, str]] = []
        self.bytes = 0
        self._dirs: set[Path] = set()
        self.thread = threading.Thread(target=self._run, name="trailgen-writer", daemon=True)
        self.thread.start()

    def put(self, key: str, raw: bytes) -> None:
        self.q.put((key, raw))

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            key, raw = item
            where = key
            try:  # never let the thread die: the producer would block on a full queue
                body = _gzip(raw, self.level)
                self.bytes += len(body)
                if self.dest_dir is not None:
                    path = self.dest_dir / key
                    where = str(path)
                    if path.parent not in self._dirs:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        self._dirs.add(path.parent)
                    path.write_bytes(body)
                if self.s3 is not None:
                    where = f"s3://{self.s3.bucket}/{key}"
                    self.s3.put(key, body)
            except Exception as e:
                self.errors.append({"key": where, "error": f"{type(e).__name__}: {e}"})

    def close(self) -> list[dict[str, str]]:
        """Finish every queued file; return all failures (local and S3)."""
        self.q.put(None)
        self.thread.join()
        if self.s3 is not None:
            self.s3.close()
            self.errors += self.s3.errors
        return self.errors


def write_trail(
    org: SeededOrg,
    *,
    dest_s3: tuple[Any, str] | None = None,
    dest_dir: Path | None = None,
    benign_events: int = 5000,
    days: int = 14,
    end: datetime | None = None,
    seed: int = 7,
    scenario: str | None = "compromised-access-key",
    compresslevel: int = 3,
    window_seconds: int = WINDOW_SECONDS,
    workers: int = 1,
) -> dict:
    """Write the generated trail as gzipped org-trail log files to ``dest_s3`` ((boto3 client, bucket)) and/or
    ``dest_dir``; one file per account/region/``window_seconds`` window, named by the window start (its day
    folder is the day of its events). Returns stats (files, records, incident/normal/benign records, per account
    and region, first/last event, bytes, seconds, errors); raises ``TrailError`` after writing everything else
    if some files failed (counted and named in it). ``compresslevel`` 3 writes about twice as fast as gzip's 6
    for files ~12% larger. ``workers`` > 1 splits the hours between spawned processes (local folder only, the
    bytes are the same as with one; the calling script needs the ``if __name__ == "__main__":`` guard)."""
    if dest_s3 is None and dest_dir is None:
        raise BadInput("write_trail needs dest_s3=(client, bucket) and/or dest_dir")
    if not org.org_id:
        raise BadInput("SeededOrg.org_id is empty: the organization-trail layout needs AWSLogs/<org_id>/")
    if window_seconds <= 0 or _HOUR % window_seconds:
        raise BadInput(f"window_seconds must divide an hour (got {window_seconds})")
    t_start = time.perf_counter()
    first, last, t1 = _hour_span(org, days=days, end=end, seed=seed, scenario=scenario)
    end_dt = datetime.fromtimestamp(t1, UTC)  # resolved once: every worker must see the same trail end
    workers = max(1, min(workers, last - first))
    kw = {
        "benign_events": benign_events,
        "days": days,
        "end": end_dt,
        "seed": seed,
        "scenario": scenario,
        "compresslevel": compresslevel,
        "window_seconds": window_seconds,
    }
    if workers == 1 or dest_s3 is not None:
        stats = _write_hours(org, dest_s3, dest_dir, (first, last), **kw)
    else:
        cuts = [first + (last - first) * i // workers for i in range(workers + 1)]
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            parts = list(
                pool.map(
                    _write_hours_worker,
                    [
                        (org, Path(dest_dir) if dest_dir is not None else None, (cuts[i], cuts[i + 1]), kw)
                        for i in range(workers)
                    ],
                )
            )
        stats = _merge_stats(parts)
    stats["seconds"] = round(time.perf_counter() - t_start, 3)
    stats["workers"] = workers
    if dest_s3 is not None:
        stats["s3"] = f"s3://{dest_s3[1]}/AWSLogs/{org.org_id}/"
    if dest_dir is not None:
        stats["dir"] = str(Path(dest_dir) / "AWSLogs" / org.org_id)
    errors = stats["errors"]
    if errors:
        raise TrailError(
            f"{len(errors)} of {stats['files']} trail files failed to write; first: "
            f"{errors[0]['key']}: {errors[0]['error']}"
        )
    return stats


def _write_hours_worker(args: tuple) -> dict:
    org, dest_dir, hours, kw = args
    return _write_hours(org, None, dest_dir, hours, **kw)


def _merge_stats(parts: list[dict]) -> dict:
    """Stats of consecutive hour ranges -> stats of the whole run."""
    out: dict[str, Any] = {
        "files": 0,
        "records": 0,
        "bytes": 0,
        "incident_records": 0,
        "normal_records": 0,
        "benign_records": 0,
        "per_account": {},
        "per_region": {},
        "first_event": None,
        "last_event": None,
        "errors": [],
    }
    for p in parts:
        for k in ("files", "records", "bytes", "incident_records", "normal_records", "benign_records"):
            out[k] += p[k]
        for k in ("per_account", "per_region"):
            for name, n in p[k].items():
                out[k][name] = out[k].get(name, 0) + n
        out["errors"] += p["errors"]
        if p["first_event"] and out["first_event"] is None:
            out["first_event"] = p["first_event"]
        if p["last_event"]:
            out["last_event"] = p["last_event"]
    return out


def _write_hours(
    org: SeededOrg,
    dest_s3: tuple[Any, str] | None,
    dest_dir: Path | None,
    hours: tuple[int, int],
    *,
    benign_events: int,
    days: int,
    end: datetime,
    seed: int,
    scenario: str | None,
    compresslevel: int,
    window_seconds: int,
) -> dict:
    """Write the files of the windows in ``hours`` = [a, b) (epoch // 3600); file names are drawn from a
    per-window RNG so any split of the hours gives the same files."""
    stats: dict[str, Any] = {
        "files": 0,
        "records": 0,
        "bytes": 0,
        "incident_records": 0,
        "normal_records": 0,
        "benign_records": 0,
        "per_account": {},
        "per_region": {},
        "first_event": None,
        "last_event": None,
        "errors": [],
    }
    per_account: dict[str, int] = stats["per_account"]
    per_region: dict[str, int] = stats["per_region"]
    encoder = R.RecordEncoder()
    names = random.Random()
    ids = R.Ids(names)
    sink = _FileSink(
        Path(dest_dir) if dest_dir is not None else None,
        _S3Sink(*dest_s3) if dest_s3 is not None else None,
        compresslevel,
    )

    def flush(window: int, groups: dict[tuple[str, str], list[dict]]) -> None:
        names.seed(f"{seed}:files:{window}")
        for acct, region in sorted(groups):
            recs = groups[(acct, region)]
            sink.put(
                log_key(org.org_id, acct, region, window * window_seconds, ids.alnum(16)),
                encoder.log_file(recs),
            )
            stats["files"] += 1
            per_account[acct] = per_account.get(acct, 0) + len(recs)
            per_region[region] = per_region.get(region, 0) + len(recs)
        groups.clear()

    groups: dict[tuple[str, str], list[dict]] = {}
    counts = {"incident": 0, "normal": 0, "benign": 0}
    current = None
    last_time = None
    try:
        for t, kind, rec in _stream(
            org, benign_events=benign_events, days=days, end=end, seed=seed, scenario=scenario, hours=hours
        ):
            w = t // window_seconds
            if w != current:
                if groups:
                    flush(current, groups)
                current = w
            k = (rec["recipientAccountId"], rec["awsRegion"])
            lst = groups.get(k)
            if lst is None:
                lst = groups[k] = []
            lst.append(rec)
            counts[kind] += 1
            if stats["first_event"] is None:
                stats["first_event"] = rec["eventTime"]
            last_time = rec["eventTime"]
        if groups:
            flush(current, groups)
    finally:
        stats["errors"] = sink.close()
    stats["last_event"] = last_time
    for kind, n in counts.items():
        stats[f"{kind}_records"] = n
    stats["records"] = sum(counts.values())
    stats["bytes"] = sink.bytes
    return stats


def epoch_of(event_time: str) -> int:
    """CloudTrail eventTime -> epoch seconds (helper for consumers and tests)."""
    return calendar.timegm(time.strptime(event_time, "%Y-%m-%dT%H:%M:%SZ"))
