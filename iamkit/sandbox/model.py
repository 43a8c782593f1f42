"""What the sandbox seeded: the ground truth later steps (trail generator, fake Entra, tests) rely on.

``seed`` fills a ``SeededOrg`` with the identifiers moto actually returned (moto's random is seeded,
so they are deterministic for a given seed), ``trailgen`` writes CloudTrail consistent with it, and
``manifest.json`` (``SeededOrg.to_json``) is the scenario manifest tests use as ground truth.
Pure data: no boto3, no moto here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: the scripted incidents the sandbox can play (``iamkit.sandbox.scenario``), each with its answer keys
SCENARIOS = (
    "compromised-access-key",
    "cross-account-trust-exposure",
    "logging-tampering",
    "root-activity",
    "privilege-escalation",
    "suspicious-role-session",
    "resource-exposure",
    "compromised-entra-user",
)


@dataclass
class Account:
    account_id: str
    name: str
    ou: str  # Root | Security | Prod | Dev | Sandbox
    email: str
    ou_id: str = ""
    is_management: bool = False


@dataclass
class AccessKey:
    access_key_id: str
    account_id: str
    user_name: str
    status: str  # Active | Inactive
    created: str  # ISO-8601 UTC
    last_used: str | None = None
    last_used_service: str | None = None


@dataclass
class User:
    account_id: str
    name: str
    arn: str
    user_id: str  # AIDA…
    groups: list[str] = field(default_factory=list)
    access_keys: list[AccessKey] = field(default_factory=list)
    mfa: bool = False
    console: bool = False
    person: str | None = None  # UPN of the human behind it, when there is one
    created: str | None = None


@dataclass
class Role:
    account_id: str
    name: str
    arn: str
    role_id: str  # AROA…
    trust_policy: dict[str, Any]
    managed_policy_arns: list[str] = field(default_factory=list)
    inline_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_session_duration: int = 3600
    purpose: str = ""  # e.g. "admin", "app", "cross-account", "sso"
    last_used: str | None = None
    created: str | None = None  # ISO-8601 UTC (backdated)


@dataclass
class Resource:
    account_id: str
    region: str
    service: str  # s3 | kms | secretsmanager | lambda | sqs | sns | ecr
    arn: str
    name: str
    policy: dict[str, Any] | None = None
    sensitive: bool = False
    objects: list[str] = field(default_factory=list)  # S3 object keys, when seeded


@dataclass
class Person:
    """A human: the same person in Entra (upn/object id) and in Identity Center (user id)."""

    upn: str
    display_name: str
    given_name: str
    surname: str
    department: str
    entra_object_id: str
    identity_center_user_id: str = ""
    groups: list[str] = field(default_factory=list)  # Identity Center / Entra group display names
    mfa_methods: list[str] = field(default_factory=list)  # e.g. ["microsoftAuthenticator"], [] = none
    iam_users: list[str] = field(default_factory=list)  # ARNs of IAM users that belong to this person
    home_ip: str = ""  # where their benign sign-ins come from
    enabled: bool = True


@dataclass
class Assignment:
    """Identity Center: a permission set assigned to a user or group in an account."""

    account_id: str
    permission_set: str
    permission_set_arn: str
    principal_type: str  # USER | GROUP
    principal_name: str
    principal_id: str


@dataclass
class Risk:
    risk_id: str
    account_id: str
    arn: str
    what: str
    safe: bool = False  # True for a deliberately safe look-alike that must NOT be flagged
    kind: str = ""  # the risk family, e.g. "root-principal-trust", "old-access-key" (risk_id = kind-N)
    access_key_id: str = ""  # for key risks: the key concerned (arn is then the user's)


@dataclass
class Incident:
    """The facts of the scripted incident (what the report must surface)."""

    scenario: str
    variant: str = "default"  # default | logging-succeeds | console (see ``iamkit.sandbox.scenario.VARIANTS``)
    leaked_access_key_id: str = ""
    user_arn: str = ""
    user_name: str = ""
    account_id: str = ""
    attacker_ip: str = ""
    attacker_user_agent: str = ""
    created_user_arn: str = ""
    created_access_key_id: str = ""
    admin_policy_arn: str = "arn:aws:iam::aws:policy/AdministratorAccess"
    target_role_arn: str = ""
    session_name: str = ""
    session_access_key_id: str = ""
    secret_arns: list[str] = field(default_factory=list)
    object_arns: list[str] = field(default_factory=list)
    start: str = ""
    end: str = ""
    console_access_key_id: str = ""  # console variant: the key of the backdoor user's console session
    logging_trail_arn: str = ""  # logging-succeeds variant: the account trail whose selectors the attacker narrowed
    # scenario-specific ground truth of the other scenarios (e.g. cross-account-trust-exposure: the callers and
    # the sessions each opened), as the scenario planned it
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SeededOrg:
    seed: int
    org_id: str
    management_account_id: str
    region: str = "us-east-1"
    accounts: list[Account] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    identity_center_instance_arn: str = ""
    identity_store_id: str = ""
    risks: list[Risk] = field(default_factory=list)
    trail_bucket: str = ""
    trail_name: str = ""
    incident: Incident | None = None
    counts: dict[str, Any] = field(default_factory=dict)  # what inventory should find, per account
    # what a key investigation must answer, one per subject (facts schema: iamkit/schemas/facts.schema.json)
    answer_keys: list[dict[str, Any]] = field(default_factory=list)

    # -- lookups --
    def account(self, account_id: str) -> Account:
        return next(a for a in self.accounts if a.account_id == account_id)

    def accounts_in(self, ou: str) -> list[Account]:
        return [a for a in self.accounts if a.ou == ou]

    def user(self, arn: str) -> User:
        return next(u for u in self.users if u.arn == arn)

    def role(self, arn: str) -> Role:
        return next(r for r in self.roles if r.arn == arn)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> SeededOrg:
        d = json.loads(text)
        d["accounts"] = [Account(**a) for a in d["accounts"]]
        d["users"] = [User(**{**u, "access_keys": [AccessKey(**k) for k in u["access_keys"]]}) for u in d["users"]]
        d["roles"] = [Role(**r) for r in d["roles"]]
        d["resources"] = [Resource(**r) for r in d["resources"]]
        d["people"] = [Person(**p) for p in d["people"]]
        d["assignments"] = [Assignment(**a) for a in d["assignments"]]
        d["risks"] = [Risk(**r) for r in d["risks"]]
        d["incident"] = Incident(**d["incident"]) if d.get("incident") else None
        return cls(**d)
