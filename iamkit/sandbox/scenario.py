"""Scripted incidents, played against moto with the attacker's real (sandbox) credentials.

**compromised-access-key**: a Dev platform engineer's old long-term key is used from a new IP and user agent:
discovery (mostly denied), a backdoor user with its own key and AdministratorAccess, AssumeRole into
``prod-deploy`` (a Prod role trusting the whole Dev account), then reading ``prod/db/password`` and customer
objects. StopLogging (denied by the SCP in AWS) is left to the trail generator: moto does not enforce SCPs.
Variants (``VARIANTS``) change one part of the story:

- ``default``: as above (the demo);
- ``logging-succeeds``: the Prod account also has its own trail, and after the denied StopLogging the attacker
  narrows that trail's event selectors (no management events) — a logging change that succeeds;
- ``console``: the attacker gives the backdoor user a console password, signs in to the console as it and
  switches role into ``prod-deploy`` from there (console sessions sign with ASIA keys no STS record issued).

The same incident investigated from its session key (``session_access_key_id``) is not a variant of the
sandbox, only another subject: its answer key is written next to the leaked key's (``answer_keys``).

**cross-account-trust-exposure** (the seed case of the trust playbook): ``prod-deploy`` in Prod trusts the whole
Dev account (``:root``, no ExternalId, no ``aws:PrincipalOrgID``). Two Dev pipeline roles, each allowed to assume
it, do so over the fortnight (``dev-release-pipeline`` from CodeBuild on weekdays, ``dev-data-sync`` from Lambda
nightly); nothing else does. The responder finds the exposure, sees who used it, and restricts the trust to those
two role ARNs plus the organization's ``aws:PrincipalOrgID``. The sessions are planned here (``details``) and
written by the trail generator.

**logging-tampering**: the Dev developer's old key (the same leaked key, from the attacker's IP) assumes
``prod-ops-tooling``, a Prod operations role that trusts that developer and may manage the account's guardrails.
Its session tries StopLogging on the Prod account trail (denied by the organization's SCP), then turns off log
file validation (UpdateTrail), deletes the GuardDuty detector and stops the Config recorder — all three succeed
(played here, so moto's state is the aftermath).

**root-activity**: the root user of the Sandbox account signs in to the console without MFA from a new IP,
looks around, creates a root access key, and from the command line with that key creates an IAM user
``support-temp`` (created here in moto). Nothing else uses that root.

**privilege-escalation**: the Dev CI user ``ci-jenkins`` (its customer-managed policy grants ``iam:*``) is used
from the attacker's IP: it writes a new default version of its own policy granting ``*`` on ``*``, attaches
AdministratorAccess to the Lambda role ``dev-report-builder`` and puts an inline policy on it granting
``iam:PassRole`` on ``*``, then lists the secrets it can now read (played here with its key).

**suspicious-role-session**: ``prod-deploy`` is used every day by the two Dev pipelines (its baseline), then
once by the leaked Dev developer's key from the attacker's IP — a new source and a new chain — whose session
reads ``prod/db/password``.

**resource-exposure**: the leaked key's ``prod-deploy`` session makes the Prod bucket ``acme-prod-reports-…``
public (a bucket policy granting ``s3:GetObject`` to ``*``, played in moto); over the next hours anonymous
callers from three internet IPs read its reports.

**compromised-entra-user**: a Platform Engineering administrator's Entra account is taken over: after failed
attempts, a risky sign-in (high risk, from a new IP in a new country) succeeds to the AWS access portal; from
there the attacker federates into the Prod account with the ``AdministratorAccess`` permission set (its
``AWSReservedSSO_…`` role, a session named after the person) and looks around: who am I, the IAM users, the
buckets, then reads ``prod/db/password``. The day before, the person worked in the same account from home
(the same permission set, their own session: the usual use the investigation must leave apart). Planned here (``details``), written by the trail generator and the
fake Entra: an Identity Center federation cannot be played in moto.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput, IamkitError
from iamkit.sandbox import backend
from iamkit.sandbox.model import SCENARIOS, AccessKey, Incident, Resource, User
from iamkit.sandbox.seed import iso
from iamkit.sandbox.seed_iam import make_role, trust_aws, trust_service

if TYPE_CHECKING:
    from iamkit.sandbox.seed import Ctx

VARIANTS = {"compromised-access-key": ("default", "logging-succeeds", "console")}
__all__ = ["SCENARIOS", "VARIANTS", "check_variant", "run"]
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
BACKDOOR_USER = "svc-backup-sync"
ATTACKER_UA = "aws-cli/1.18.69 Python/3.6.9 Linux/5.10.0-kali9-amd64 botocore/1.16.19 (redteam-kit/0.4)"
PROD_TRAIL = "prod-audit-trail"  # logging-succeeds: the Prod account's own trail


def check_variant(name: str | None, variant: str | None) -> str:
    """The variant to play (``default`` when empty); BadInput for one the scenario does not have."""
    variant = variant or "default"
    known = VARIANTS.get(name or "", ("default",))
    if variant not in known:
        raise BadInput(f"unknown variant {variant!r} of scenario {name or 'none'}; known: {', '.join(known)}")
    return variant


def run(ctx: Ctx, name: str, variant: str = "default") -> Incident:
    """Play scenario ``name`` (``variant``) and record its facts in ``ctx.org.incident``."""
    if name == "compromised-access-key":
        return compromised_access_key(ctx, check_variant(name, variant))
    if name == "cross-account-trust-exposure":
        return cross_account_trust_exposure(ctx, check_variant(name, variant))
    if name == "logging-tampering":
        return logging_tampering(ctx, check_variant(name, variant))
    if name == "root-activity":
        return root_activity(ctx, check_variant(name, variant))
    if name == "privilege-escalation":
        return privilege_escalation(ctx, check_variant(name, variant))
    if name == "suspicious-role-session":
        return suspicious_role_session(ctx, check_variant(name, variant))
    if name == "resource-exposure":
        return resource_exposure(ctx, check_variant(name, variant))
    if name == "compromised-entra-user":
        return compromised_entra_user(ctx, check_variant(name, variant))
    raise IamkitError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")


def compromised_access_key(ctx: Ctx, variant: str = "default") -> Incident:
    """The leaked-key incident; every id in the ``Incident`` is one moto returned."""
    org = ctx.org
    leaked: User | None = ctx.cache.get("leaked_user")
    if leaked is None:
        raise IamkitError("scenario compromised-access-key: the Dev account has no developer with an old key")
    dev = leaked.account_id
    prod = org.accounts_in("Prod")[0].account_id
    key = leaked.access_keys[0]
    rng = ctx.rng
    start = (ctx.now - timedelta(hours=rng.uniform(26, 40))).replace(microsecond=0)
    t = {"discovery": start, "create_user": start + timedelta(minutes=rng.uniform(18, 25))}
    t["create_key"] = t["create_user"] + timedelta(seconds=rng.randint(20, 50))
    t["attach"] = t["create_key"] + timedelta(seconds=rng.randint(20, 50))
    t["assume"] = t["attach"] + timedelta(minutes=rng.uniform(6, 12))
    t["read"] = t["assume"] + timedelta(minutes=rng.uniform(3, 8))
    end = t["read"] + timedelta(minutes=rng.uniform(4, 9))
    t = {k: v.replace(microsecond=0) for k, v in t.items()}
    end = end.replace(microsecond=0)
    inc = Incident(
        scenario="compromised-access-key",
        variant=variant,
        leaked_access_key_id=key.access_key_id,
        user_arn=leaked.arn,
        user_name=leaked.name,
        account_id=dev,
        attacker_ip=f"203.0.113.{rng.randint(20, 240)}",
        attacker_user_agent=ATTACKER_UA,
        start=iso(start),
        end=iso(end),
    )

    iam = ctx.client("iam", dev, access_key_id=key.access_key_id)
    sts = ctx.client("sts", dev, access_key_id=key.access_key_id)
    ident = sts.get_caller_identity()
    if ident["Account"] != dev:
        raise IamkitError(f"moto mapped the leaked key to account {ident['Account']}, expected {dev}")
    iam.list_users()
    iam.list_roles()
    created = iam.create_user(UserName=BACKDOOR_USER)["User"]
    new_key = iam.create_access_key(UserName=BACKDOOR_USER)["AccessKey"]["AccessKeyId"]
    iam.attach_user_policy(UserName=BACKDOOR_USER, PolicyArn=ADMIN)
    user_id = ctx.upper_id("AIDA")
    backend.set_user(dev, BACKDOOR_USER, user_id=user_id, created=t["create_user"])
    backend.set_access_key(
        dev,
        new_key,
        created=t["create_key"],
        last_used=t["create_key"] + timedelta(seconds=30),
        service="sts",
    )
    org.users.append(
        User(
            account_id=dev,
            name=BACKDOOR_USER,
            arn=created["Arn"],
            user_id=user_id,
            created=iso(t["create_user"]),
            access_keys=[
                AccessKey(
                    access_key_id=new_key,
                    account_id=dev,
                    user_name=BACKDOOR_USER,
                    status="Active",
                    created=iso(t["create_key"]),
                    last_used=iso(t["create_key"] + timedelta(seconds=30)),
                    last_used_service="sts",
                )
            ],
        )
    )
    inc.created_user_arn, inc.created_access_key_id = created["Arn"], new_key

    target = org.role(f"arn:aws:iam::{prod}:role/prod-deploy")
    session_name = f"backup-sync-{ctx.hex(6)}"
    if variant == "console":
        # a console password for the backdoor user; the console session's key and the switch-role session
        # (named after the user, as the console names it) come from the backdoor user, not the leaked key
        iam.create_login_profile(UserName=BACKDOOR_USER, Password=f"Bkp-{ctx.hex(12)}!Zz9")
        inc.console_access_key_id = ctx.upper_id("ASIA", 16)
        session_name = BACKDOOR_USER
        sts = ctx.client("sts", dev, access_key_id=new_key)
    creds = sts.assume_role(RoleArn=target.arn, RoleSessionName=session_name)["Credentials"]
    inc.target_role_arn, inc.session_name = target.arn, session_name
    inc.session_access_key_id = creds["AccessKeyId"]

    secret = next(r for r in org.resources if r.service == "secretsmanager" and r.name == "prod/db/password")
    bucket = next(r for r in org.resources if r.service == "s3" and r.name.startswith("acme-prod-customer-data"))
    sm = ctx.client("secretsmanager", prod, access_key_id=creds["AccessKeyId"], session_token=creds["SessionToken"])
    s3 = ctx.client("s3", prod, access_key_id=creds["AccessKeyId"], session_token=creds["SessionToken"])
    sm.get_secret_value(SecretId=secret.arn)
    inc.secret_arns = [secret.arn]
    for obj in bucket.objects[:2]:
        s3.get_object(Bucket=bucket.name, Key=obj)
        inc.object_arns.append(f"{bucket.arn}/{obj}")

    if variant == "logging-succeeds":
        inc.logging_trail_arn = _narrow_prod_trail(ctx, prod, creds)
    backend.set_access_key(dev, key.access_key_id, last_used=t["assume"], service="sts")
    key.last_used, key.last_used_service = iso(t["assume"]), "sts"
    backend.set_role(prod, "prod-deploy", last_used=t["read"])
    target.last_used = iso(t["read"])
    org.incident = inc
    return inc


def _narrow_prod_trail(ctx: Ctx, prod: str, creds: dict) -> str:
    """logging-succeeds: the Prod account's own trail (set up by the organization long before), whose event
    selectors the attacker's session then empties of management events (PowerUser allows it, the SCP does not
    deny it). Returns the trail ARN."""
    org = ctx.org
    bucket = f"acme-prod-audit-logs-{prod}"
    ctx.client("s3", prod).create_bucket(Bucket=bucket)
    arn = ctx.client("cloudtrail", prod).create_trail(Name=PROD_TRAIL, S3BucketName=bucket)["TrailARN"]
    ctx.client("cloudtrail", prod).start_logging(Name=PROD_TRAIL)
    org.resources.append(
        Resource(account_id=prod, region=org.region, service="s3", arn=f"arn:aws:s3:::{bucket}", name=bucket)
    )
    attacker = ctx.client("cloudtrail", prod, access_key_id=creds["AccessKeyId"], session_token=creds["SessionToken"])
    attacker.put_event_selectors(
        TrailName=arn, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": False, "DataResources": []}]
    )
    return arn


#: the Dev roles that legitimately use prod-deploy: (name, the service that runs them, sessions a day)
TRUST_CALLERS = (("dev-release-pipeline", "codebuild.amazonaws.com"), ("dev-data-sync", "lambda.amazonaws.com"))
TRUST_TARGET = "prod-deploy"


def _pipelines(ctx: Ctx, target: Any, *, weekends: bool) -> tuple[list[str], list[dict[str, str]]]:
    """The Dev pipeline roles allowed to assume ``target`` (created in moto) and the sessions they open over the
    12 days before ``now``: the release pipeline on weekdays (every day with ``weekends``), the data sync nightly."""
    dev = ctx.org.accounts_in("Dev")[0].account_id
    rng = ctx.rng
    callers = []
    for name, service in TRUST_CALLERS:
        allow = {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "DeployToProd", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": target.arn}
            ],
        }
        role = make_role(
            ctx,
            dev,
            name,
            trust_service(service, {"StringEquals": {"aws:SourceAccount": dev}}),
            inline={"assume-prod-deploy": allow},
            purpose="pipeline",
            created_days=200,
            description=f"{name}: runs in {service.split('.')[0]}, deploys to Prod",
        )
        callers.append((role, service))
    day0 = (ctx.now - timedelta(days=12)).replace(hour=0, minute=0, second=0, microsecond=0)
    uses = []
    for d in range(12):
        day = day0 + timedelta(days=d)
        for role, service in callers:
            if service.startswith("codebuild") and day.weekday() >= 5 and not weekends:
                continue  # releases on weekdays only
            hour = rng.uniform(9, 17) if service.startswith("codebuild") else rng.uniform(1.5, 2.5)
            t = (day + timedelta(hours=hour)).replace(microsecond=0)
            if t >= ctx.now - timedelta(hours=1):
                continue
            uses.append(
                {"caller": role.arn, "service": service, "time": iso(t), "session_name": f"{role.name}-{ctx.hex(4)}"}
            )
    uses.sort(key=lambda u: u["time"])
    return [r.arn for r, _s in callers], uses


def cross_account_trust_exposure(ctx: Ctx, variant: str = "default") -> Incident:
    """The exposed trust: two Dev pipeline roles (created here, in moto, allowed to assume ``prod-deploy``) and
    the sessions they open over the fortnight before ``now`` (``details.uses``, written by the trail generator)."""
    org = ctx.org
    dev = org.accounts_in("Dev")[0].account_id
    prod = org.accounts_in("Prod")[0].account_id
    target = org.role(f"arn:aws:iam::{prod}:role/{TRUST_TARGET}")
    callers, uses = _pipelines(ctx, target, weekends=False)
    last = uses[-1]["time"]
    backend.set_role(prod, TRUST_TARGET, last_used=_parse(last))
    target.last_used = last
    inc = Incident(
        scenario="cross-account-trust-exposure",
        variant=variant,
        account_id=prod,
        target_role_arn=target.arn,
        start=uses[0]["time"],
        end=last,
        details={"callers": callers, "uses": uses, "org_id": org.org_id, "trusted": f"arn:aws:iam::{dev}:root"},
    )
    org.incident = inc
    return inc


def suspicious_role_session(ctx: Ctx, variant: str = "default") -> Incident:
    """``prod-deploy`` in its usual work (the two pipelines, every day), then one session opened by the Dev
    developer's leaked key from the attacker's IP (a new source and a new chain: a user, not a pipeline), which
    reads the database password; played in moto with that key."""
    org = ctx.org
    prod = org.accounts_in("Prod")[0].account_id
    target = org.role(f"arn:aws:iam::{prod}:role/{TRUST_TARGET}")
    leaked: User | None = ctx.cache.get("leaked_user")
    if leaked is None:
        raise IamkitError("scenario suspicious-role-session: the Dev account has no developer with an old key")
    callers, uses = _pipelines(ctx, target, weekends=True)
    key = leaked.access_keys[0]
    rng = ctx.rng
    start = (ctx.now - timedelta(hours=rng.uniform(3, 8))).replace(microsecond=0)
    times, t = {}, start
    for s in ("assume", "whoami", "secret", "buckets"):
        times[s] = iso(t)
        t += timedelta(seconds=rng.randint(20, 120))
    session_name = f"deploy-{ctx.hex(6)}"
    creds = ctx.client("sts", leaked.account_id, access_key_id=key.access_key_id).assume_role(
        RoleArn=target.arn, RoleSessionName=session_name
    )["Credentials"]
    secret = next(r for r in org.resources if r.service == "secretsmanager" and r.name == "prod/db/password")
    ctx.client(
        "secretsmanager", prod, access_key_id=creds["AccessKeyId"], session_token=creds["SessionToken"]
    ).get_secret_value(SecretId=secret.arn)
    inc = Incident(
        scenario="suspicious-role-session",
        variant=variant,
        leaked_access_key_id=key.access_key_id,
        user_arn=leaked.arn,
        user_name=leaked.name,
        account_id=prod,
        target_role_arn=target.arn,
        session_name=session_name,
        attacker_ip=f"203.0.113.{rng.randint(20, 240)}",
        attacker_user_agent=ATTACKER_UA,
        secret_arns=[secret.arn],
        start=times["assume"],
        end=times["buckets"],
        details={"callers": callers, "uses": uses, "times": times},
    )
    org.incident = inc
    return inc


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


TAMPER_ROLE = "prod-ops-tooling"
TAMPER_SESSION = "ops-maintenance"
CONFIG_RECORDER = "default"


def logging_tampering(ctx: Ctx, variant: str = "default") -> Incident:
    """The Prod account's own guardrails (a trail, GuardDuty, a Config recorder), the operations role that may
    manage them, and the attacker's session switching them off; the times are planned in ``details``."""
    org = ctx.org
    leaked: User | None = ctx.cache.get("leaked_user")
    if leaked is None:
        raise IamkitError("scenario logging-tampering: the Dev account has no developer with an old key")
    dev, prod = leaked.account_id, org.accounts_in("Prod")[0].account_id
    key = leaked.access_keys[0]
    bucket = f"acme-prod-audit-logs-{prod}"
    ctx.client("s3", prod).create_bucket(Bucket=bucket)
    org.resources.append(
        Resource(account_id=prod, region=org.region, service="s3", arn=f"arn:aws:s3:::{bucket}", name=bucket)
    )
    ct = ctx.client("cloudtrail", prod)
    trail_arn = ct.create_trail(Name=PROD_TRAIL, S3BucketName=bucket, EnableLogFileValidation=True)["TrailARN"]
    ct.start_logging(Name=PROD_TRAIL)
    cfg = ctx.client("config", prod)
    cfg.put_configuration_recorder(
        ConfigurationRecorder={
            "name": CONFIG_RECORDER,
            "roleARN": f"arn:aws:iam::{prod}:role/aws-config-recorder",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": bucket})
    cfg.start_configuration_recorder(ConfigurationRecorderName=CONFIG_RECORDER)
    detector = ctx.client("guardduty", prod).list_detectors()["DetectorIds"][0]
    allow = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OperateGuardrails",
                "Effect": "Allow",
                "Resource": "*",
                "Action": ["cloudtrail:*", "guardduty:*", "config:*", "s3:ListAllMyBuckets"],
            }
        ],
    }
    role = make_role(
        ctx,
        prod,
        TAMPER_ROLE,
        trust_aws(leaked.arn),
        inline={"operate-guardrails": allow},
        purpose="ops",
        created_days=300,
        description="Operations tooling for the Prod guardrails",
    )
    # the developer's on-call grant: allowed to assume the operations role (what the attacker's key inherits)
    ctx.client("iam", dev).put_user_policy(
        UserName=leaked.name,
        PolicyName="on-call-prod-ops",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role.arn}],
            }
        ),
    )
    rng = ctx.rng
    start = (ctx.now - timedelta(hours=rng.uniform(20, 30))).replace(microsecond=0)
    steps = [
        "assume",
        "describe",
        "stop",
        "update",
        "list_detectors",
        "delete_detector",
        "describe_recorders",
        "stop_recorder",
    ]
    times, t = {}, start
    for s in steps:
        times[s] = iso(t)
        t += timedelta(seconds=rng.randint(20, 90))
    sts = ctx.client("sts", dev, access_key_id=key.access_key_id)
    creds = sts.assume_role(RoleArn=role.arn, RoleSessionName=TAMPER_SESSION)["Credentials"]
    as_attacker = {"access_key_id": creds["AccessKeyId"], "session_token": creds["SessionToken"]}
    ctx.client("cloudtrail", prod, **as_attacker).update_trail(Name=trail_arn, EnableLogFileValidation=False)
    ctx.client("guardduty", prod, **as_attacker).delete_detector(DetectorId=detector)
    ctx.client("config", prod, **as_attacker).stop_configuration_recorder(ConfigurationRecorderName=CONFIG_RECORDER)
    inc = Incident(
        scenario="logging-tampering",
        variant=variant,
        leaked_access_key_id=key.access_key_id,
        user_arn=leaked.arn,
        user_name=leaked.name,
        account_id=prod,
        attacker_ip=f"203.0.113.{rng.randint(20, 240)}",
        attacker_user_agent=ATTACKER_UA,
        target_role_arn=role.arn,
        session_name=TAMPER_SESSION,
        start=times["assume"],
        end=times["stop_recorder"],
        logging_trail_arn=trail_arn,
        details={
            "times": times,
            "detector_id": detector,
            "recorder": CONFIG_RECORDER,
            "org_trail_arn": f"arn:aws:cloudtrail:{org.region}:{org.management_account_id}:trail/{org.trail_name}",
        },
    )
    org.incident = inc
    return inc


ROOT_CREATED_USER = "support-temp"


def root_activity(ctx: Ctx, variant: str = "default") -> Incident:
    """Root of the Sandbox account at work from a new IP: the user it creates is made in moto; the root key and
    the times are planned in ``details`` (moto cannot give root a key) for the trail generator."""
    org = ctx.org
    acct = org.accounts_in("Sandbox")[0].account_id
    created = ctx.client("iam", acct).create_user(UserName=ROOT_CREATED_USER)["User"]
    user_id = ctx.upper_id("AIDA")
    rng = ctx.rng
    start = (ctx.now - timedelta(hours=rng.uniform(10, 20))).replace(microsecond=0)
    times, t = {}, start
    for s in ("login", "summary", "list_users", "create_key", "whoami", "buckets", "create_user"):
        times[s] = iso(t)
        t += timedelta(seconds=rng.randint(30, 240))
    backend.set_user(acct, ROOT_CREATED_USER, user_id=user_id, created=_parse(times["create_user"]))
    org.users.append(
        User(account_id=acct, name=ROOT_CREATED_USER, arn=created["Arn"], user_id=user_id, created=times["create_user"])
    )
    inc = Incident(
        scenario="root-activity",
        variant=variant,
        account_id=acct,
        user_arn=f"arn:aws:iam::{acct}:root",
        attacker_ip=f"198.51.100.{rng.randint(20, 240)}",
        attacker_user_agent=ATTACKER_UA,
        created_user_arn=created["Arn"],
        created_access_key_id=ctx.upper_id("AKIA", 16),
        console_access_key_id=ctx.upper_id("ASIA", 16),
        start=times["login"],
        end=times["create_user"],
        details={"times": times},
    )
    org.incident = inc
    return inc


ESCALATING_USER = "ci-jenkins"
ESCALATED_ROLE = "dev-report-builder"
ESCALATED_INLINE = "build-deploy"
WIDENED_POLICY = "iam-full-management"
STAR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
PASSROLE_STAR = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Deploy", "Effect": "Allow", "Action": ["iam:PassRole", "lambda:*"], "Resource": "*"}],
}


def privilege_escalation(ctx: Ctx, variant: str = "default") -> Incident:
    """The CI user's key widens its own policy, then makes a Lambda role administrator and able to pass any
    role; played in moto with that key, the times planned in ``details``."""
    org = ctx.org
    dev = org.accounts_in("Dev")[0].account_id
    actor = next((u for u in org.users if u.account_id == dev and u.name == ESCALATING_USER), None)
    if actor is None or not actor.access_keys:
        raise IamkitError(f"scenario privilege-escalation: no {ESCALATING_USER} user with a key in the Dev account")
    key = actor.access_keys[0]
    role = make_role(
        ctx,
        dev,
        ESCALATED_ROLE,
        trust_service("lambda.amazonaws.com"),
        managed=["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
        purpose="app",
        created_days=180,
        description="Builds the weekly reports",
    )
    policy_arn = f"arn:aws:iam::{dev}:policy/{WIDENED_POLICY}"
    iam = ctx.client("iam", dev, access_key_id=key.access_key_id)
    version = iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(STAR), SetAsDefault=True)[
        "PolicyVersion"
    ]["VersionId"]
    iam.attach_role_policy(RoleName=ESCALATED_ROLE, PolicyArn=ADMIN)
    iam.put_role_policy(RoleName=ESCALATED_ROLE, PolicyName=ESCALATED_INLINE, PolicyDocument=json.dumps(PASSROLE_STAR))
    rng = ctx.rng
    start = (ctx.now - timedelta(hours=rng.uniform(6, 12))).replace(microsecond=0)
    times, t = {}, start
    for s in ("whoami", "policies", "new_version", "attach", "put_inline", "secrets"):
        times[s] = iso(t)
        t += timedelta(seconds=rng.randint(20, 120))
    inc = Incident(
        scenario="privilege-escalation",
        variant=variant,
        leaked_access_key_id=key.access_key_id,
        user_arn=actor.arn,
        user_name=actor.name,
        account_id=dev,
        attacker_ip=f"203.0.113.{rng.randint(20, 240)}",
        attacker_user_agent=ATTACKER_UA,
        target_role_arn=role.arn,
        start=times["whoami"],
        end=times["secrets"],
        details={
            "times": times,
            "policy_arn": policy_arn,
            "version_id": version,
            "inline_policy": ESCALATED_INLINE,
            "documents": {"star": STAR, "passrole": PASSROLE_STAR},
        },
    )
    org.incident = inc
    return inc


REPORTS = ("2026/q3-revenue.pdf", "2026/q3-customers.csv", "2026/board-pack.pdf")


def resource_exposure(ctx: Ctx, variant: str = "default") -> Incident:
    """A Prod bucket of reports made public by the leaked key's ``prod-deploy`` session (played in moto), then
    read anonymously; times and readers planned in ``details``."""
    org = ctx.org
    prod = org.accounts_in("Prod")[0].account_id
    target = org.role(f"arn:aws:iam::{prod}:role/{TRUST_TARGET}")
    leaked: User | None = ctx.cache.get("leaked_user")
    if leaked is None:
        raise IamkitError("scenario resource-exposure: the Dev account has no developer with an old key")
    bucket = f"acme-prod-reports-{prod}"
    s3 = ctx.client("s3", prod)
    s3.create_bucket(Bucket=bucket)
    for key in REPORTS:
        s3.put_object(Bucket=bucket, Key=key, Body=b"report")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    session_name = f"deploy-{ctx.hex(6)}"
    creds = ctx.client("sts", leaked.account_id, access_key_id=leaked.access_keys[0].access_key_id).assume_role(
        RoleArn=target.arn, RoleSessionName=session_name
    )["Credentials"]
    ctx.client("s3", prod, access_key_id=creds["AccessKeyId"], session_token=creds["SessionToken"]).put_bucket_policy(
        Bucket=bucket, Policy=json.dumps(policy)
    )
    org.resources.append(
        Resource(
            account_id=prod,
            region=org.region,
            service="s3",
            arn=f"arn:aws:s3:::{bucket}",
            name=bucket,
            policy=policy,
            sensitive=True,
            objects=list(REPORTS),
        )
    )
    rng = ctx.rng
    start = (ctx.now - timedelta(hours=rng.uniform(10, 16))).replace(microsecond=0)
    reads = []
    for i, hours in enumerate((1.5, 3.2, 6.8, 7.1)):
        reads.append(
            {
                "time": iso(start + timedelta(hours=hours, seconds=rng.randint(0, 600))),
                "ip": f"{rng.choice((45, 91, 185))}.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{10 + i}",
                "key": REPORTS[i % len(REPORTS)],
            }
        )
    times = {"assume": iso(start), "put_policy": iso(start + timedelta(seconds=rng.randint(40, 120)))}
    inc = Incident(
        scenario="resource-exposure",
        variant=variant,
        leaked_access_key_id=leaked.access_keys[0].access_key_id,
        user_arn=leaked.arn,
        user_name=leaked.name,
        account_id=prod,
        target_role_arn=target.arn,
        session_name=session_name,
        attacker_ip=f"203.0.113.{rng.randint(20, 240)}",
        attacker_user_agent=ATTACKER_UA,
        start=times["assume"],
        end=reads[-1]["time"],
        details={"bucket": bucket, "policy": policy, "times": times, "reads": reads},
    )
    org.incident = inc
    return inc


ENTRA_GROUP = "AWS-Admins"  # the person taken over is an administrator who has no IAM user of their own
ENTRA_PERMISSION_SET = "AdministratorAccess"
ENTRA_COUNTRY = "NL"  # where the attacker's sign-in comes from (the people's home sign-ins are elsewhere)
#: the session's calls, in order: (step, service, call)
ENTRA_CALLS = (
    ("whoami", "sts.amazonaws.com", "GetCallerIdentity"),
    ("users", "iam.amazonaws.com", "ListUsers"),
    ("buckets", "s3.amazonaws.com", "ListBuckets"),
    ("secret", "secretsmanager.amazonaws.com", "GetSecretValue"),
)


def compromised_entra_user(ctx: Ctx, variant: str = "default") -> Incident:
    """A person's Entra account taken over, reaching Prod through Identity Center (see the module's text)."""
    org = ctx.org
    prod = org.accounts_in("Prod")[0].account_id
    person = next((p for p in org.people if ENTRA_GROUP in p.groups and not p.iam_users and p.enabled), None)
    prefix = f"AWSReservedSSO_{ENTRA_PERMISSION_SET}_"
    role = next((r for r in org.roles if r.account_id == prod and r.name.startswith(prefix)), None)
    assignment = next(
        (
            a
            for a in org.assignments
            if a.account_id == prod and a.permission_set == ENTRA_PERMISSION_SET and a.principal_name == ENTRA_GROUP
        ),
        None,
    )
    if person is None or role is None or assignment is None:
        raise IamkitError(
            f"scenario compromised-entra-user: no {ENTRA_GROUP} person with {ENTRA_PERMISSION_SET} in Prod was seeded"
        )
    secret = next(r for r in org.resources if r.service == "secretsmanager" and r.name == "prod/db/password")
    rng = ctx.rng
    signin = (ctx.now - timedelta(hours=rng.uniform(3, 8))).replace(microsecond=0)
    usual = (signin - timedelta(hours=rng.uniform(20, 30))).replace(microsecond=0)  # their own work, the day before
    times, t = {"signin": iso(signin), "usual": iso(usual)}, signin + timedelta(seconds=rng.randint(20, 90))
    for step in ("authenticate", "federate", "assume", *(c[0] for c in ENTRA_CALLS)):
        times[step] = iso(t)
        t += timedelta(seconds=rng.randint(3, 90))
    inc = Incident(
        scenario="compromised-entra-user",
        variant=variant,
        account_id=prod,
        target_role_arn=role.arn,
        session_name=person.upn,
        attacker_ip=f"203.0.113.{rng.randint(20, 240)}",
        attacker_user_agent=("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
        secret_arns=[secret.arn],
        start=times["signin"],
        end=times[ENTRA_CALLS[-1][0]],
        details={
            "upn": person.upn,
            "entra_object_id": person.entra_object_id,
            "identity_center_user_id": person.identity_center_user_id,
            "permission_set": ENTRA_PERMISSION_SET,
            "permission_set_arn": assignment.permission_set_arn,
            "assignment": {
                "account_id": prod,
                "principal_type": assignment.principal_type,
                "principal_id": assignment.principal_id,
                "principal_name": assignment.principal_name,
            },
            "country": ENTRA_COUNTRY,
            # the attacker's failed Entra sign-ins before the one that got in (wrong password, then MFA refused)
            "attempts": [iso(signin - timedelta(minutes=m)) for m in (11, 8, 5)],
            "calls": [list(c) for c in ENTRA_CALLS],
            "times": times,
        },
    )
    org.incident = inc
    return inc
