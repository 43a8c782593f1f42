"""Tests of the CloudTrail generator: org-trail layout, gzip, determinism, the incident script, id consistency, noise,
identity shapes and the benign haystack (on a small hand-built SeededOrg; no moto server needed)."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.errors import BadInput, TrailError
from iamkit.sandbox import records as R
from iamkit.sandbox import trailgen
from iamkit.sandbox.model import (
    AccessKey,
    Account,
    Assignment,
    Incident,
    Person,
    Resource,
    Role,
    SeededOrg,
    User,
)
from iamkit.trail.ipcontext import classify
from iamkit.trail.outcome import is_denied

MGMT, SEC, PROD, DEV = "111111111111", "222222222222", "333333333333", "444444444444"
ORG_ID = "o-abc123def4"
BENIGN = 3000
DAYS = 6


def _trust(service=None, account=None):
    p = {"Service": service} if service else {"AWS": f"arn:aws:iam::{account}:root"}
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole"}],
    }


def saml_provider(account: str) -> str:
    return f"arn:aws:iam::{account}:saml-provider/AWSSSO_{account[:4]}abcd1234abcd_DO_NOT_DELETE"


def make_org(with_incident: bool = True) -> SeededOrg:
    """A small organization shaped like the sandbox's seeding (4 accounts, app/deploy/SSO roles, 3 people)."""
    accts = [
        Account(MGMT, "management", "Root", "m@x", is_management=True),
        Account(SEC, "security", "Security", "s@x"),
        Account(PROD, "prod", "Prod", "p@x"),
        Account(DEV, "dev", "Dev", "d@x"),
    ]
    roles = []
    n = 0
    for a in accts:
        for svc in ("lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"):
            n += 1
            name = f"{svc.split('.')[0]}-app-{n}"
            roles.append(
                Role(
                    a.account_id,
                    name,
                    f"arn:aws:iam::{a.account_id}:role/{name}",
                    f"AROAAPP{n:014d}",
                    _trust(service=svc),
                    purpose="app",
                )
            )
        n += 1
        roles.append(
            Role(
                a.account_id,
                "deploy",
                f"arn:aws:iam::{a.account_id}:role/deploy",
                f"AROADEP{n:014d}",
                _trust(account=MGMT),
                purpose="cross-account",
            )
        )
        for ps in ("AdministratorAccess", "ReadOnly"):
            n += 1
            name = f"AWSReservedSSO_{ps}_{n:016x}"
            roles.append(
                Role(
                    a.account_id,
                    name,
                    f"arn:aws:iam::{a.account_id}:role/aws-reserved/sso.amazonaws.com/{name}",
                    f"AROASSO{n:014d}",
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Federated": saml_provider(a.account_id)},
                                "Action": "sts:AssumeRoleWithSAML",
                            }
                        ]
                    },
                    purpose="sso",
                )
            )
    roles.append(
        Role(
            DEV,
            "github-actions-deploy",
            f"arn:aws:iam::{DEV}:role/github-actions-deploy",
            "AROAGITHUBDEPLOY00001",
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {
                            "Federated": f"arn:aws:iam::{DEV}:oidc-provider/token.actions.githubusercontent.com"
                        },
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/webapp:*"}},
                    }
                ]
            },
            purpose="ci",
        )
    )
    roles.append(
        Role(
            PROD,
            "prod-deploy",
            f"arn:aws:iam::{PROD}:role/prod-deploy",
            "AROAPRODDEPLOY0000001",
            _trust(account=DEV),
            purpose="cross-account",
        )
    )
    people = [
        Person(
            "alice.smith@contoso.example",
            "Alice Smith",
            "Alice",
            "Smith",
            "Eng",
            "e-1",
            "idc-alice",
            ["Developers"],
            ["microsoftAuthenticator"],
            [f"arn:aws:iam::{DEV}:user/alice"],
            "192.0.2.10",
        ),
        Person(
            "bob.jones@contoso.example",
            "Bob Jones",
            "Bob",
            "Jones",
            "Ops",
            "e-2",
            "idc-bob",
            ["Admins"],
            [],
            [],
            "192.0.2.20",
        ),
        Person(
            "carol.white@contoso.example",
            "Carol White",
            "Carol",
            "White",
            "Eng",
            "e-3",
            "idc-carol",
            ["Developers"],
            ["fido2"],
            [f"arn:aws:iam::{DEV}:user/carol"],
            "192.0.2.30",
        ),
    ]
    users = [
        User(
            DEV,
            "alice",
            f"arn:aws:iam::{DEV}:user/alice",
            "AIDAALICE000000000001",
            access_keys=[AccessKey("AKIAALICE00000000001", DEV, "alice", "Active", "2025-01-01T00:00:00Z")],
            person="alice.smith@contoso.example",
            console=True,
            mfa=True,
        ),
        User(
            DEV,
            "carol",
            f"arn:aws:iam::{DEV}:user/carol",
            "AIDACAROL000000000001",
            access_keys=[AccessKey("AKIACAROL00000000001", DEV, "carol", "Active", "2024-01-01T00:00:00Z")],
            person="carol.white@contoso.example",
            console=True,
        ),
        User(
            DEV,
            "ci-build",
            f"arn:aws:iam::{DEV}:user/ci-build",
            "AIDACIBUILD0000000001",
            access_keys=[AccessKey("AKIACIBUILD000000001", DEV, "ci-build", "Active", "2024-06-01T00:00:00Z")],
        ),
        User(
            MGMT,
            "ci-deployer",
            f"arn:aws:iam::{MGMT}:user/ci-deployer",
            "AIDACIDEPLOY000000001",
            access_keys=[
                AccessKey("AKIACIDEPLOY00000001", MGMT, "ci-deployer", "Active", "2024-06-01T00:00:00Z"),
                AccessKey("AKIACIDEPLOYOLD00001", MGMT, "ci-deployer", "Inactive", "2023-06-01T00:00:00Z"),
            ],
        ),
        User(SEC, "auditor", f"arn:aws:iam::{SEC}:user/auditor", "AIDAAUDITOR0000000001", console=True),
    ]
    assignments = []
    for a in accts:
        assignments.append(Assignment(a.account_id, "AdministratorAccess", "arn:ps/admin", "GROUP", "Admins", "g-a"))
        assignments.append(Assignment(a.account_id, "ReadOnly", "arn:ps/ro", "GROUP", "Developers", "g-d"))
    secret = f"arn:aws:secretsmanager:us-east-1:{PROD}:secret:prod/db/password-AbCdEf"
    resources = [
        Resource(PROD, "us-east-1", "secretsmanager", secret, "prod/db/password", sensitive=True),
        Resource(
            PROD,
            "us-east-1",
            "secretsmanager",
            f"arn:aws:secretsmanager:us-east-1:{PROD}:secret:app/api-key-QwErTy",
            "app/api-key",
        ),
        Resource(
            PROD,
            "eu-west-1",
            "s3",
            f"arn:aws:s3:::acme-{PROD}-customer-data",
            f"acme-{PROD}-customer-data",
            sensitive=True,
            objects=["exports/customers.csv", "exports/cards.csv"],
        ),
        Resource(PROD, "us-east-1", "s3", f"arn:aws:s3:::acme-{PROD}-artifacts", f"acme-{PROD}-artifacts"),
    ]
    inc = None
    if with_incident:
        inc = Incident(
            scenario="compromised-access-key",
            leaked_access_key_id="AKIACAROL00000000001",
            user_arn=f"arn:aws:iam::{DEV}:user/carol",
            user_name="carol",
            account_id=DEV,
            attacker_ip="203.0.113.66",
            attacker_user_agent="python-requests/2.31.0 (x-attacker)",
            created_user_arn=f"arn:aws:iam::{DEV}:user/svc-backup-sync",
            created_access_key_id="AKIABACKDOOR00000001",
            target_role_arn=f"arn:aws:iam::{PROD}:role/prod-deploy",
            session_name="maint",
            session_access_key_id="ASIAINCIDENT00000001",
            secret_arns=[secret],
            object_arns=[
                f"arn:aws:s3:::acme-{PROD}-customer-data/exports/customers.csv",
                f"arn:aws:s3:::acme-{PROD}-customer-data/exports/cards.csv",
            ],
            start="2026-11-26T14:00:00Z",
            end="2026-11-26T14:50:00Z",
        )
    return SeededOrg(
        seed=7,
        org_id=ORG_ID,
        management_account_id=MGMT,
        accounts=accts,
        users=users,
        roles=roles,
        resources=resources,
        people=people,
        assignments=assignments,
        identity_store_id="d-1234567890",
        trail_bucket="org-trail-logs",
        trail_name="org-trail",
        incident=inc,
    )


KEY_RE = re.compile(
    r"^AWSLogs/(?P<org>o-[a-z0-9]+)/(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/(?P<y>\d{4})/(?P<m>\d{2})/"
    r"(?P<d>\d{2})/(?P=acct)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$"
)


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One trail written to a folder: (org, stats, {relative key: bytes})."""
    org = make_org()
    root = tmp_path_factory.mktemp("trail")
    stats = trailgen.write_trail(org, dest_dir=root, benign_events=BENIGN, days=DAYS)
    return org, stats, _read_tree(root)


@pytest.fixture(scope="module")
def recs(written):
    """All records read back from the files, in time order."""
    out = []
    for body in written[2].values():
        out += json.loads(gzip.decompress(body))["Records"]
    return sorted(out, key=lambda r: r["eventTime"])


@pytest.fixture(scope="module")
def incident_recs(written):
    org = written[0]
    return [r for _t, kind, r, _o in trailgen.scenario_records(org, days=DAYS) if kind == "incident"]


# -- layout, gzip, determinism ------------------------------------------------------------------------
def test_every_file_is_in_the_org_trail_layout_with_matching_records(written):
    org, stats, files = written
    assert len(files) == stats["files"] > 10
    seen_windows = set()
    total = 0
    for key, body in files.items():
        m = KEY_RE.match(key)
        assert m, key
        assert m["org"] == org.org_id
        stamp = datetime.strptime(m["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert (m["y"], m["m"], m["d"]) == (f"{stamp.year:04d}", f"{stamp.month:02d}", f"{stamp.day:02d}")
        assert stamp.minute % 5 == 0
        window = (m["acct"], m["region"], m["stamp"])
        assert window not in seen_windows, "one file per account/region/5-minute window"
        seen_windows.add(window)
        records = json.loads(gzip.decompress(body))["Records"]
        assert records
        total += len(records)
        for r in records:
            assert r["recipientAccountId"] == m["acct"]
            assert r["awsRegion"] == m["region"]
            t = trailgen.epoch_of(r["eventTime"])
            assert stamp.timestamp() <= t < stamp.timestamp() + 300
    assert total == stats["records"]
    assert sum(stats["per_account"].values()) == total
    assert set(stats["per_account"]) <= {a.account_id for a in org.accounts}


def test_log_key_follows_cloudtrails_naming():
    import calendar

    t = calendar.timegm((2026, 1, 5, 23, 55, 0))
    assert trailgen.log_key("o-a1b2c3d4e5", "123456789012", "eu-west-1", t, "Mu0KsOhtH1ar15ZZ") == (
        "AWSLogs/o-a1b2c3d4e5/123456789012/CloudTrail/eu-west-1/2026/01/05/"
        "123456789012_CloudTrail_eu-west-1_20260105T2355Z_Mu0KsOhtH1ar15ZZ.json.gz"
    )


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_record_times_match_their_file_window_for_any_seed(tmp_path, seed):
    stats = trailgen.write_trail(make_org(), dest_dir=tmp_path, benign_events=400, days=1, seed=seed)
    n = 0
    for key, body in _read_tree(tmp_path).items():
        m = KEY_RE.match(key)
        start = datetime.strptime(m["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC).timestamp()
        rs = json.loads(gzip.decompress(body))["Records"]
        n += len(rs)
        assert all(start <= trailgen.epoch_of(r["eventTime"]) < start + 300 for r in rs)
    assert n == stats["records"] and stats["benign_records"] == 400


def test_files_are_valid_gzip_with_zero_mtime(written):
    for body in written[2].values():
        assert body[:2] == b"\x1f\x8b"
        assert body[4:8] == b"\0\0\0\0"  # mtime 0: same records, same bytes
        doc = json.loads(gzip.decompress(body))
        assert list(doc) == ["Records"]


def test_same_seed_same_bytes_other_seed_other_bytes(written, tmp_path):
    org, stats, files = written
    again = trailgen.write_trail(make_org(), dest_dir=tmp_path / "a", benign_events=BENIGN, days=DAYS)
    assert _read_tree(tmp_path / "a") == files
    assert again["records"] == stats["records"]
    trailgen.write_trail(make_org(), dest_dir=tmp_path / "b", benign_events=BENIGN, days=DAYS, seed=8)
    other = _read_tree(tmp_path / "b")
    assert other != files


_DIGEST = """
import hashlib, json, sys
from iamkit.sandbox import trailgen
from iamkit.sandbox.model import SeededOrg
org = SeededOrg.from_json(open(sys.argv[1]).read())
h = hashlib.sha256()
for r in trailgen.generate(org, benign_events=300, days=2):
    h.update(json.dumps(r).encode())
print(h.hexdigest())
"""


def test_same_records_in_another_process_with_another_hash_seed(tmp_path):
    import hashlib
    import os
    import subprocess
    import sys

    org_file = tmp_path / "org.json"
    org_file.write_text(make_org().to_json())
    h = hashlib.sha256()
    for r in trailgen.generate(SeededOrg.from_json(org_file.read_text()), benign_events=300, days=2):
        h.update(json.dumps(r).encode())
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", _DIGEST, str(org_file)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == h.hexdigest()


def test_parallel_workers_write_the_same_bytes(written, tmp_path):
    stats = trailgen.write_trail(make_org(), dest_dir=tmp_path, benign_events=BENIGN, days=DAYS, workers=3)
    assert stats["workers"] == 3
    assert _read_tree(tmp_path) == written[2]
    assert {k: v for k, v in stats.items() if k not in ("seconds", "dir", "workers")} == {
        k: v for k, v in written[1].items() if k not in ("seconds", "dir", "workers")
    }


def test_generate_yields_the_records_written_in_time_order(written, recs):
    org = written[0]
    gen = list(trailgen.generate(org, benign_events=BENIGN, days=DAYS))
    times = [r["eventTime"] for r in gen]
    assert times == sorted(times)
    assert sorted(json.dumps(r, sort_keys=True) for r in gen) == sorted(json.dumps(r, sort_keys=True) for r in recs)


def test_event_ids_are_unique_uuids(recs):
    ids = [r["eventID"] for r in recs]
    assert len(set(ids)) == len(ids)
    uuid_re = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(uuid_re.match(i) for i in ids)


# -- the incident --------------------------------------------------------------------------------------
def _first(records, name, **match):
    for i, r in enumerate(records):
        if r["eventName"] == name and all(r.get(k) == v for k, v in match.items()):
            return i, r
    raise AssertionError(f"no {name} {match}")


def test_incident_steps_in_order_with_the_seeded_ids(written, incident_recs):
    inc = written[0].incident
    rs = incident_recs
    by_service = [r for r in rs if "invokedBy" in r["userIdentity"]]
    assert [r["eventName"] for r in by_service] == ["Decrypt"]  # Secrets Manager decrypting for the session
    assert by_service[0]["sourceIPAddress"] == by_service[0]["userAgent"] == "secretsmanager.amazonaws.com"
    assert all(r["userAgent"] == inc.attacker_user_agent for r in rs if r not in by_service)
    i_gci, first = _first(rs, "GetCallerIdentity")
    assert i_gci == 0 and first["userIdentity"]["accessKeyId"] == inc.leaked_access_key_id
    i_cu, cu = _first(rs, "CreateUser")
    assert cu["requestParameters"]["userName"] == "svc-backup-sync"
    assert cu["responseElements"]["user"]["arn"] == inc.created_user_arn
    discovery = rs[1:i_cu]
    assert len(discovery) >= 8
    assert all(r["eventName"].startswith(("List", "Get", "Describe")) for r in discovery)
    assert any(r.get("errorCode", "").startswith("AccessDenied") for r in discovery)
    assert all(r["userIdentity"]["accessKeyId"] == inc.leaked_access_key_id for r in rs[: i_cu + 1])
    i_ck, ck = _first(rs, "CreateAccessKey")
    assert ck["responseElements"]["accessKey"]["accessKeyId"] == inc.created_access_key_id
    i_att, att = _first(rs, "AttachUserPolicy")
    assert att["requestParameters"] == {"userName": "svc-backup-sync", "policyArn": inc.admin_policy_arn}
    backdoor = [i for i, r in enumerate(rs) if r["userIdentity"].get("accessKeyId") == inc.created_access_key_id]
    assert backdoor and min(backdoor) > i_ck
    i_ar, ar_dev = _first(rs, "AssumeRole", recipientAccountId=DEV)
    _, ar_prod = _first(rs, "AssumeRole", recipientAccountId=PROD)
    assert ar_dev["userIdentity"]["accessKeyId"] == inc.leaked_access_key_id
    assert ar_prod["userIdentity"] == {
        "type": "AWSAccount",
        "principalId": "AIDACAROL000000000001",
        "accountId": DEV,
    }
    assert ar_dev["sharedEventID"] == ar_prod["sharedEventID"] and ar_dev["eventID"] != ar_prod["eventID"]
    assert ar_dev["requestID"] == ar_prod["requestID"]
    for ar in (ar_dev, ar_prod):
        assert ar["requestParameters"]["roleArn"] == inc.target_role_arn
        assert ar["requestParameters"]["roleSessionName"] == inc.session_name
        assert ar["responseElements"]["credentials"]["accessKeyId"] == inc.session_access_key_id
        assert (
            ar["responseElements"]["assumedRoleUser"]["arn"]
            == f"arn:aws:sts::{PROD}:assumed-role/prod-deploy/{inc.session_name}"
        )
    i_sl, sl = _first(rs, "StopLogging")
    assert sl["errorCode"] == "AccessDenied" and "explicit deny in a service control policy" in sl["errorMessage"]
    assert sl["recipientAccountId"] == PROD and sl["responseElements"] is None
    assert sl["userIdentity"]["accessKeyId"] == inc.session_access_key_id
    assert sl["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == inc.target_role_arn
    i_sv, sv = _first(rs, "GetSecretValue")
    assert sv["requestParameters"]["secretId"] == inc.secret_arns[0]
    assert sv["resources"][0]["ARN"] == inc.secret_arns[0]
    gets = [r for r in rs if r["eventName"] == "GetObject"]
    assert {r["resources"][0]["ARN"] for r in gets} == set(inc.object_arns)
    for g in gets:
        assert g["managementEvent"] is False and g["eventCategory"] == "Data"
        assert g["awsRegion"] == "eu-west-1"  # the bucket's region from org.resources
        assert g["userIdentity"]["accessKeyId"] == inc.session_access_key_id
    i_go = rs.index(gets[0])
    assert i_gci < i_cu < i_ck < i_att < i_ar < i_sl < i_sv and i_sl < i_go
    t0, t1 = (trailgen.epoch_of(rs[i]["eventTime"]) for i in (0, -1))
    assert (t0, t1) == (trailgen._epoch(inc.start), trailgen._epoch(inc.end))


def test_discovery_contains_a_denied_burst_as_enumeration_tools_make(written, incident_recs):
    inc = written[0].incident
    denied = [
        trailgen.epoch_of(r["eventTime"])
        for r in incident_recs
        if r.get("errorCode") and r["userIdentity"].get("accessKeyId") == inc.leaked_access_key_id
    ]
    assert len(denied) >= 20
    assert max(sum(1 for t in denied if t0 <= t < t0 + 600) for t0 in denied) >= 20  # 20 within 10 minutes
    codes = {r["errorCode"] for r in incident_recs if r.get("errorCode")}
    assert {"AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation"} <= codes


def test_global_services_are_recorded_in_us_east_1():
    org = make_org()
    org.region = "eu-west-1"
    rs = list(trailgen.generate(org, benign_events=500, days=2))
    iam = [r for r in rs if r["eventSource"] in ("iam.amazonaws.com", "signin.amazonaws.com")]
    assert iam and all(r["awsRegion"] == "us-east-1" for r in iam)
    assert {r["awsRegion"] for r in rs if r["eventSource"] == "sts.amazonaws.com"} >= {"eu-west-1"}


def test_incident_records_are_the_only_ones_from_the_attacker_ip(written, recs):
    org, stats, _ = written
    from_attacker = [r for r in recs if r["sourceIPAddress"] == org.incident.attacker_ip]
    # every incident record but the one Secrets Manager makes for the attacker's session (its source is the service)
    assert len(from_attacker) == stats["incident_records"] - 1 > 20
    assert stats["benign_records"] == BENIGN


def test_benign_never_uses_the_incidents_identities(written, recs, incident_recs):
    inc = written[0].incident
    scripted = {r["eventID"] for r in incident_recs}
    for r in recs:
        if r["eventID"] in scripted:
            continue
        text = json.dumps(r)
        for token in (
            inc.created_access_key_id,
            inc.session_access_key_id,
            inc.created_user_arn,
            inc.target_role_arn,
            "svc-backup-sync",
        ):
            assert token not in text, (token, r["eventName"])
        if inc.leaked_access_key_id in text:  # only the owner's own usual CLI calls
            assert r["userIdentity"]["userName"] == inc.user_name
            assert r["userAgent"] != inc.attacker_user_agent


def test_the_leaked_keys_owner_works_normally_from_home(written, recs):
    inc = written[0].incident
    mine = [
        r
        for r in recs
        if r["userIdentity"].get("accessKeyId") == inc.leaked_access_key_id and r["sourceIPAddress"] != inc.attacker_ip
    ]
    assert mine
    assert {r["sourceIPAddress"] for r in mine} == {"192.0.2.30"}  # carol's home_ip
    days = {r["eventTime"][:10] for r in mine}
    assert len(days) >= 3
    assert not any(inc.start <= r["eventTime"] <= inc.end for r in mine)


# -- consistency -------------------------------------------------------------------------------------------
ID_RE = re.compile(r"\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,20}\b")


def test_every_key_and_principal_id_is_seeded_created_or_issued(written, recs):
    org = written[0]
    inc = org.incident
    akia = {k.access_key_id for u in org.users for k in u.access_keys} | {inc.created_access_key_id}
    aida = {u.user_id for u in org.users}
    aroa = {r.role_id for r in org.roles}
    issued: dict[str, str] = {}
    for r in recs:
        if r["eventName"] == "CreateUser" and r["responseElements"]:
            aida.add(r["responseElements"]["user"]["userId"])
        creds = (r.get("responseElements") or {}).get("credentials")
        if creds:
            issued.setdefault(creds["accessKeyId"], r["eventTime"])
    assert inc.session_access_key_id in issued
    console = {
        r["userIdentity"]["accessKeyId"]
        for r in recs
        if r.get("sessionCredentialFromConsole") == "true" and r["userIdentity"]["type"] == "IAMUser"
    }
    assert console, "IAM users' console sessions are part of the noise"
    assert not console & set(issued), "a console session's key is never issued by a recorded STS call"
    for r in recs:
        for m in ID_RE.finditer(json.dumps(r)):
            tok, kind = m.group(0), m.group(1)
            pool = {"AKIA": akia, "AIDA": aida, "AROA": aroa, "ASIA": issued.keys() | console}[kind]
            assert tok in pool, (tok, r["eventName"])
        used = r["userIdentity"].get("accessKeyId", "")
        if used.startswith("ASIA") and used not in console:
            assert issued[used] <= r["eventTime"], "a session key is used only after it was issued"
    accounts = {a.account_id for a in org.accounts}
    assert {r["recipientAccountId"] for r in recs} <= accounts
    assert {r["userIdentity"]["accountId"] for r in recs if "accountId" in r["userIdentity"]} <= accounts


def test_inactive_keys_are_never_used(written, recs):
    assert not any(r["userIdentity"].get("accessKeyId") == "AKIACIDEPLOYOLD00001" for r in recs)


# -- shapes --------------------------------------------------------------------------------------------
REQUIRED = (
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "requestParameters",
    "responseElements",
    "requestID",
    "eventID",
    "readOnly",
    "eventType",
    "managementEvent",
    "recipientAccountId",
    "eventCategory",
)


def test_records_have_cloudtrail_shapes(recs):
    for r in recs:
        assert all(k in r for k in REQUIRED), r
        assert r["eventVersion"] in ("1.08", "1.09")
        assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", r["eventTime"])
        assert r["eventSource"].endswith(".amazonaws.com")
        assert r["eventType"] in ("AwsApiCall", "AwsConsoleSignIn", "AwsServiceEvent")
        assert isinstance(r["readOnly"], bool) and isinstance(r["managementEvent"], bool)
        assert r["eventCategory"] == ("Management" if r["managementEvent"] else "Data")
        if r["eventCategory"] == "Data":
            assert r["resources"]
        if "errorCode" in r:
            assert r["errorMessage"] and r["responseElements"] is None
    kinds = Counter(r["eventType"] for r in recs)
    assert set(kinds) == {"AwsApiCall", "AwsConsoleSignIn", "AwsServiceEvent"}


def test_user_identity_shapes_per_type(recs):
    by_type = defaultdict(list)
    for r in recs:
        by_type[r["userIdentity"].get("type", "service-event")].append(r)
    assert {
        "IAMUser",
        "AssumedRole",
        "AWSService",
        "SAMLUser",
        "IdentityCenterUser",
        "AWSAccount",
        "FederatedUser",
    } <= set(by_type)
    for r in by_type["IAMUser"]:
        ui = r["userIdentity"]
        assert ui["principalId"].startswith("AIDA") and ui["arn"].endswith(":user/" + ui["userName"])
        assert ui["arn"].split(":")[4] == ui["accountId"]
        if r["eventType"] == "AwsApiCall":  # a long-term key, or the console session's key (as AWS writes it)
            console = r.get("sessionCredentialFromConsole") == "true"
            assert ui["accessKeyId"].startswith("ASIA" if console else "AKIA")
            assert ("sessionContext" in ui) == console
    for r in by_type["AssumedRole"]:
        ui = r["userIdentity"]
        issuer = ui["sessionContext"]["sessionIssuer"]
        role_id, session = ui["principalId"].split(":", 1)
        assert role_id == issuer["principalId"] and role_id.startswith("AROA") and issuer["type"] == "Role"
        assert ui["arn"] == f"arn:aws:sts::{ui['accountId']}:assumed-role/{issuer['userName']}/{session}"
        assert ui["accessKeyId"].startswith("ASIA")
        assert set(ui["sessionContext"]["attributes"]) == {"creationDate", "mfaAuthenticated"}
    for r in by_type["AWSService"]:
        assert r["userIdentity"]["invokedBy"].endswith(".amazonaws.com")
    for r in by_type["FederatedUser"]:
        assert r["userIdentity"]["sessionContext"]["sessionIssuer"]["type"] == "IAMUser"
    for r in by_type["Root"]:
        assert r["userIdentity"]["arn"] == f"arn:aws:iam::{MGMT}:root"


def test_console_sign_ins_with_and_without_mfa(recs):
    logins = [r for r in recs if r["eventName"] == "ConsoleLogin"]
    assert {r["additionalEventData"]["MFAUsed"] for r in logins} == {"Yes", "No"}
    for r in logins:
        assert r["eventType"] == "AwsConsoleSignIn" and r["eventSource"] == "signin.amazonaws.com"
        assert r["responseElements"]["ConsoleLogin"] in ("Success", "Failure")


def test_sso_sessions_are_named_by_the_person_and_trace_to_identity_center(written, recs):
    org = written[0]
    people = {p.upn: p for p in org.people}
    saml = [r for r in recs if r["eventName"] == "AssumeRoleWithSAML"]
    assert saml
    issued = {}
    for r in saml:
        upn = r["requestParameters"]["roleSessionName"]
        assert upn in people
        assert r["userIdentity"]["type"] == "SAMLUser" and r["userIdentity"]["userName"] == upn
        assert "/AWSReservedSSO_" in r["requestParameters"]["roleArn"]
        assert r["requestParameters"]["principalArn"] == saml_provider(r["recipientAccountId"])  # the trusted one
        issued[r["responseElements"]["credentials"]["accessKeyId"]] = upn
    used = [r for r in recs if r["userIdentity"].get("accessKeyId") in issued]
    assert used
    for r in used:
        upn = issued[r["userIdentity"]["accessKeyId"]]
        assert r["userIdentity"]["arn"].endswith("/" + upn)
        assert r["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"].startswith("AWSReservedSSO_")
        assert r["sourceIPAddress"] == people[upn].home_ip
    idc = [r for r in recs if r["userIdentity"].get("type") == "IdentityCenterUser"]
    ids = {p.identity_center_user_id for p in org.people}
    assert idc and {r["userIdentity"]["onBehalfOf"]["userId"] for r in idc} <= ids
    assert all(r["recipientAccountId"] == MGMT for r in idc)
    # permission sets follow the assignments: Bob (Admins) gets AdministratorAccess, Alice (Developers) ReadOnly
    for r in saml:
        ps = r["requestParameters"]["roleArn"].rsplit("/", 1)[1]
        who = r["requestParameters"]["roleSessionName"]
        assert ps.startswith(
            "AWSReservedSSO_AdministratorAccess_" if who.startswith("bob") else "AWSReservedSSO_ReadOnly_"
        )


def test_github_oidc_sessions_come_from_web_identity(recs):
    web = [r for r in recs if r["eventName"] == "AssumeRoleWithWebIdentity"]
    assert web
    keys = set()
    for r in web:
        ui = r["userIdentity"]
        assert ui["type"] == "WebIdentityUser" and ui["identityProvider"].endswith(
            ":oidc-provider/token.actions.githubusercontent.com"
        )
        assert ui["userName"] == r["responseElements"]["subjectFromWebIdentityToken"] == "repo:acme/webapp:main"
        assert r["requestParameters"]["roleArn"] == f"arn:aws:iam::{DEV}:role/github-actions-deploy"
        keys.add(r["responseElements"]["credentials"]["accessKeyId"])
    used = [r for r in recs if r["userIdentity"].get("accessKeyId") in keys]
    assert used and all("webIdFederationData" in r["userIdentity"]["sessionContext"] for r in used)


def test_ci_users_assume_only_roles_that_trust_their_account(written, recs):
    org = written[0]
    users = {u.user_id: u for u in org.users}
    checked = 0
    for r in recs:
        if (
            r["eventName"] == "AssumeRole"
            and r["userIdentity"].get("type") == "IAMUser"
            and r["sourceIPAddress"] != org.incident.attacker_ip
        ):
            role = org.role(r["requestParameters"]["roleArn"])
            caller = users[r["userIdentity"]["principalId"]]
            assert caller.account_id in json.dumps(role.trust_policy)
            checked += 1
    assert checked > 3


def test_policy_changes_carry_the_document_as_a_json_string(recs):
    changes = [r for r in recs if r["eventName"] in ("CreatePolicy", "PutRolePolicy")]
    assert changes
    encoded = 0
    for r in changes:
        doc = r["requestParameters"]["policyDocument"]
        assert isinstance(doc, str)
        if doc.startswith("%7B"):
            encoded += 1
            doc = unquote(doc)
        assert json.loads(doc)["Version"] == "2012-10-17"
    assert 0 < encoded < len(changes)


def test_cross_account_assume_role_is_recorded_on_both_sides(recs):
    by_shared = defaultdict(list)
    for r in recs:
        if r["eventName"] == "AssumeRole" and r["userIdentity"].get("type") != "AWSService":
            by_shared[r["sharedEventID"]].append(r)
    cross = [v for v in by_shared.values() if len(v) == 2]
    assert len(cross) > 1
    for a, b in cross:
        role_account = a["requestParameters"]["roleArn"].split(":")[4]
        assert {a["recipientAccountId"], b["recipientAccountId"]} == {
            a["userIdentity"]["accountId"],
            role_account,
        }


# -- options and errors ------------------------------------------------------------------------------------
def test_no_scenario_means_no_incident_and_exact_benign_count():
    org = make_org(with_incident=False)
    end = datetime(2026, 3, 2, tzinfo=UTC)
    rs = list(trailgen.generate(org, benign_events=700, days=2, end=end, scenario=None))
    assert len(rs) == 700
    assert not any(r["sourceIPAddress"].startswith("203.0.113.") for r in rs)
    assert rs[-1]["eventTime"] < "2026-03-02T00:00:00Z" and rs[0]["eventTime"] >= "2026-02-28T00:00:00Z"


def test_benign_volume_scales_and_counts_exactly():
    rs = sum(1 for _ in trailgen.generate(make_org(), benign_events=8_000, days=3))
    base = sum(1 for _ in trailgen.generate(make_org(), benign_events=0, days=3))
    assert rs - base == 8_000


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"scenario": "nope"}, "unknown scenario"),
        ({"benign_events": -1}, "benign_events"),
        ({"days": 0}, "days"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, msg):
    with pytest.raises(BadInput, match=msg):
        list(trailgen.generate(make_org(), **kwargs))


def test_scenario_without_incident_is_a_clear_error(tmp_path):
    with pytest.raises(BadInput, match="org.incident"):
        list(trailgen.generate(make_org(with_incident=False)))
    with pytest.raises(BadInput, match="dest_s3"):
        trailgen.write_trail(make_org())


def test_unwritable_destination_lists_the_failure(tmp_path):
    blocker = tmp_path / "AWSLogs"
    blocker.write_text("a file where a folder must go")
    with pytest.raises(TrailError, match="failed to write"):
        trailgen.write_trail(make_org(), dest_dir=tmp_path, benign_events=50, days=1)


def test_s3_destination_gets_the_same_files(tmp_path, sandbox):
    # a scratch account on the shared sandbox server: moto's mock_aws would reset that server's state
    import random

    from iamkit.sandbox.server import account_session

    acct = f"5{random.randrange(10**10, 10**11):011d}"[:12]
    bucket = f"org-trail-logs-{acct}"
    s3 = account_session(sandbox.endpoint_url, acct, region="us-east-1").client("s3")
    s3.create_bucket(Bucket=bucket)
    stats = trailgen.write_trail(make_org(), dest_s3=(s3, bucket), dest_dir=tmp_path, benign_events=60, days=1)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert len(keys) == stats["files"]
    local = _read_tree(tmp_path)
    assert set(keys) == set(local)
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert body == local[keys[0]]
    with pytest.raises(TrailError, match="NoSuchBucket"):
        trailgen.write_trail(make_org(), dest_s3=(s3, f"missing-{acct}"), benign_events=20, days=1)


# -- encoder ------------------------------------------------------------------------------------------------
_json_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=20)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["userIdentity", "tlsDetails", "eventName", "requestParameters", 'x"y', "é"]),
        _json,
        max_size=6,
    )
)
def test_record_encoder_equals_json_dumps(rec):
    enc = R.RecordEncoder()
    expected = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
    assert enc.encode(rec) == expected
    assert enc.encode(rec) == expected  # second time through the shared-object cache


def test_record_encoder_file_body_round_trips(recs):
    body = R.RecordEncoder().log_file(recs[:200])
    assert json.loads(body) == {"Records": recs[:200]}


# -- noise as real trails have it ----------------------------------------------------------------------------
# The generated haystack carries the noise real trails carry, in comparable proportions: AWS Internal and
# service names as source IPs (always with ``invokedBy``), IAM users' console sessions signing with ASIA keys,
# errors that are not denials (throttling, NoSuch*, *NotFound), denied calls written with
# ``requestParameters: null``, and both copies of cross-account AssumeRoles.
#
# The reference figures are frozen from the real records of the Invictus dataset
# (``../shared/datasets/invictus-aws-cloudtrail/``, 2,900 records of one account, measured once by hand; the
# tests never read it). The bounds leave room for a different organization, not for a missing shape.

# Invictus (2,900 records): 170 "AWS Internal" (5.9 %) + 183 service-name (6.3 %) source IPs, all with
# userIdentity.invokedBy; 300 errors (10.3 %), of which 60 AccessDenied-class (2.1 %) and 240 others (80 % of
# the errors: ThrottlingException 102, NoSuch*/…NotFound…); 14 of the 16 non-EC2 denials with
# requestParameters null (EC2's Client.UnauthorizedOperation keeps them: 0 of 44); 563 of 2,748 IAMUser
# records (20 %) signed with ASIA keys, 256 of them flagged sessionCredentialFromConsole.
INVICTUS = {
    "non_ip_sources": 353 / 2900,
    "errors": 300 / 2900,
    "denied": 60 / 2900,
    "other_share_of_errors": 240 / 300,
    "denied_null_params": 14 / 16,
    "iam_user_asia": 563 / 2748,
}


def within(value: float, reference: float, factor: float) -> bool:
    return reference / factor <= value <= reference * factor


@pytest.fixture(scope="module")
def noisy():
    return list(trailgen.generate(make_org(), benign_events=6000, days=6))


def test_aws_internal_and_service_sources_come_with_invoked_by(noisy):
    kinds = Counter(classify(r["sourceIPAddress"]) for r in noisy)
    assert kinds["aws_internal"] and kinds["aws_service"]
    share = (kinds["aws_internal"] + kinds["aws_service"]) / len(noisy)
    assert within(share, INVICTUS["non_ip_sources"], 2), share
    for r in noisy:
        if classify(r["sourceIPAddress"]) in ("aws_internal", "aws_service"):
            assert r["userIdentity"].get("invokedBy") == r["sourceIPAddress"] or (
                r["userIdentity"].get("type") == "AWSService"
            ), r["eventName"]


def test_errors_are_mostly_not_denials(noisy):
    errors = [r for r in noisy if r.get("errorCode")]
    denied = [r for r in errors if is_denied(r["errorCode"])]
    codes = Counter(r["errorCode"] for r in errors if not is_denied(r["errorCode"]))
    assert within(len(errors) / len(noisy), INVICTUS["errors"], 2.5)
    assert within(len(denied) / len(noisy), INVICTUS["denied"], 2.5)
    assert within(1 - len(denied) / len(errors), INVICTUS["other_share_of_errors"], 1.3)
    assert "ThrottlingException" in codes
    assert any(c.startswith("NoSuch") for c in codes) and any(
        c.endswith(("NotFound", "NotFoundException")) for c in codes
    )
    for r in errors:
        if r["errorCode"] == "ThrottlingException":
            assert r["requestParameters"] is None


def test_denied_calls_mostly_carry_no_request_parameters(noisy):
    denied = [r for r in noisy if is_denied(r.get("errorCode"))]
    not_ec2 = [r for r in denied if r["eventSource"] != "ec2.amazonaws.com"]
    share = sum(r["requestParameters"] is None for r in not_ec2) / len(not_ec2)
    assert share >= INVICTUS["denied_null_params"] - 0.15
    assert all(r["requestParameters"] is not None for r in denied if r["eventSource"] == "ec2.amazonaws.com")


def test_iam_users_console_sessions_sign_with_asia_keys(noisy):
    calls = [r for r in noisy if r["userIdentity"].get("type") == "IAMUser" and r["eventType"] == "AwsApiCall"]
    asia = [r for r in calls if r["userIdentity"]["accessKeyId"].startswith("ASIA")]
    assert within(len(asia) / len(calls), INVICTUS["iam_user_asia"], 2.5)
    assert all(r.get("sessionCredentialFromConsole") == "true" for r in asia)
    assert {r["userAgent"] for r in asia} >= {"AWS Internal"}
    assert any(r["userAgent"].startswith("Mozilla/") for r in asia)


def test_cross_account_assume_roles_are_written_twice(noisy):
    by_shared: dict[str, list[dict]] = {}
    for r in noisy:
        if r["eventName"] == "AssumeRole" and r["userIdentity"].get("type") != "AWSService":
            by_shared.setdefault(r["sharedEventID"], []).append(r)
    pairs = [v for v in by_shared.values() if len(v) == 2]
    assert pairs
    for a, b in pairs:
        types = {a["userIdentity"]["type"], b["userIdentity"]["type"]}
        assert "AWSAccount" in types and a["responseElements"] == b["responseElements"]
        role_copy = a if a["userIdentity"]["type"] == "AWSAccount" else b
        assert "accessKeyId" not in role_copy["userIdentity"]
