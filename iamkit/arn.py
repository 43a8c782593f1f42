"""ARNs, read and written one way: ``arn:partition:service:region:account:resource``.

``parse`` splits an ARN (None when the text is not one), ``account_of`` gives its account only when that is
twelve ASCII digits (``arn:aws:iam::aws:policy/…`` and ``arn:aws:s3:::bucket`` have none), ``name_of`` the
last segment of its resource, ``principal`` says what kind of principal a string names (user, role, an
assumed-role session and the role behind it, root, a service, a federated identity…), and the ``*_arn``
helpers build them. Stdlib only and linear time (string splits, no regular expressions): evidence is hostile.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

_DIGITS = frozenset("0123456789")
# Principal.kind values
ROOT, USER, ROLE, GROUP, ASSUMED_ROLE, FEDERATED_USER = (
    "root",
    "user",
    "role",
    "group",
    "assumed_role",
    "federated_user",
)
SAML_PROVIDER, OIDC_PROVIDER, SERVICE, ACCOUNT, ANYONE, UNKNOWN = (
    "saml_provider",
    "oidc_provider",
    "service",
    "account",
    "anyone",
    "unknown",
)
# web-identity providers named without an ARN in a trust policy's Federated principal
WEB_IDENTITY_PROVIDERS = frozenset(
    {"cognito-identity.amazonaws.com", "accounts.google.com", "graph.facebook.com", "www.amazon.com"}
)


def is_account_id(value: object) -> bool:
    """True for exactly twelve ASCII digits."""
    return isinstance(value, str) and len(value) == 12 and _DIGITS.issuperset(value)


@dataclass(frozen=True)
class Arn:
    """The six fields of an ARN, as written (``account`` may be empty or ``aws``)."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    @property
    def account_id(self) -> str | None:
        """The account when it is a 12-digit account id, else None."""
        return self.account if is_account_id(self.account) else None

    @property
    def resource_type(self) -> str:
        """``role`` of ``role/path/name``, ``secret`` of ``secret:name``; S3's ``bucket`` or ``object``; else ''."""
        return self._split()[0]

    @property
    def resource_id(self) -> str:
        """What follows the resource type (``path/name``, ``name``), or the whole resource when it has none."""
        return self._split()[1]

    @property
    def name(self) -> str:
        """The last ``/`` segment of the resource id (a user's, role's or policy's name without its path)."""
        return self.resource_id.rsplit("/", 1)[-1]

    def _split(self) -> tuple[str, str]:
        r = self.resource
        if self.service == "s3" and not self.account and not self.region:
            return ("object" if "/" in r else "bucket"), r
        slash, colon = r.find("/"), r.find(":")
        cut = min(i for i in (slash, colon, len(r)) if i >= 0)
        if cut == len(r):
            return "", r
        return r[:cut], r[cut + 1 :]


def parse(text: object) -> Arn | None:
    """The ARN in ``text``, or None when it is not one (six ``:``-separated fields, partition, service and
    resource not empty; the resource may hold more colons)."""
    if not isinstance(text, str) or not text.startswith("arn:"):
        return None
    parts = text.split(":", 5)
    if len(parts) != 6 or not parts[1] or not parts[2] or not parts[5]:
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def is_arn(text: object) -> bool:
    """True when ``text`` parses as an ARN."""
    return parse(text) is not None


def account_of(text: object) -> str | None:
    """The 12-digit account of an ARN; None for anything else (no account, ``aws``, not an ARN)."""
    return _account_of(text) if isinstance(text, str) else None


@lru_cache(maxsize=65536)
def _account_of(text: str) -> str | None:  # the engine asks for the same resources' accounts many times
    a = parse(text)
    return a.account_id if a is not None else None


def principal_account(value: object) -> str | None:
    """The account a policy principal names: a bare 12-digit account id, or an ARN's account."""
    return value if is_account_id(value) else account_of(value)


def is_aws_managed_policy(text: object) -> bool:
    """True for an AWS-managed policy (``arn:<partition>:iam::aws:policy/…``)."""
    a = parse(text)
    return a is not None and a.service == "iam" and a.account == "aws" and a.resource_type == "policy"


def name_of(text: object) -> str:
    """The name at the end of an ARN's resource (``user/ops/alice`` → ``alice``); for text that is not an
    ARN, its last ``/`` segment ('' for a non-string)."""
    a = parse(text)
    if a is not None:
        return a.name
    return text.rsplit("/", 1)[-1] if isinstance(text, str) else ""


@dataclass(frozen=True)
class Principal:
    """What a principal string names. ``name`` is the user's, role's or group's name (for an assumed-role
    session: its role's), or a service's; ``session`` the session name; ``role_arn`` the IAM role behind a
    role or assumed-role session."""

    kind: str
    value: str
    account: str | None = None
    name: str | None = None
    path: str = ""
    session: str | None = None
    partition: str = "aws"

    @property
    def role_arn(self) -> str | None:
        if self.kind == ROLE:
            return self.value
        if self.kind == ASSUMED_ROLE and self.account and self.name:
            return role_arn(self.account, self.name, partition=self.partition)
        return None


def principal(value: object) -> Principal:
    """Classify a principal as it appears in a policy, a trust or a CloudTrail ``userIdentity.arn``."""
    text = value if isinstance(value, str) else ""
    if text == "*":
        return Principal(ANYONE, text)
    if is_account_id(text):
        return Principal(ACCOUNT, text, account=text)
    a = parse(text)
    if a is None:
        if text in WEB_IDENTITY_PROVIDERS:
            return Principal(OIDC_PROVIDER, text, name=text)
        if text.endswith((".amazonaws.com", ".amazonaws.com.cn")) and "/" not in text and ":" not in text:
            return Principal(SERVICE, text, name=text)
        return Principal(UNKNOWN, text)
    acct, kind, rid = a.account_id, a.resource_type, a.resource_id
    if a.service == "iam":
        if a.resource == "root":
            return Principal(ROOT, text, account=acct, partition=a.partition)
        if kind in ("user", "role", "group") and rid:
            path, _, name = rid.rpartition("/")
            return Principal(
                kind, text, account=acct, name=name, path=f"/{path}/" if path else "/", partition=a.partition
            )
        if kind == "saml-provider":
            return Principal(SAML_PROVIDER, text, account=acct, name=rid, partition=a.partition)
        if kind == "oidc-provider":
            return Principal(OIDC_PROVIDER, text, account=acct, name=rid, partition=a.partition)
    if a.service == "sts":
        if kind == "assumed-role":
            role, sep, session = rid.partition("/")
            if role and sep and session:
                return Principal(ASSUMED_ROLE, text, account=acct, name=role, session=session, partition=a.partition)
        if kind == "federated-user" and rid:
            return Principal(FEDERATED_USER, text, account=acct, name=rid, session=rid, partition=a.partition)
    return Principal(UNKNOWN, text, account=acct, partition=a.partition)


def role_of_session(text: object) -> str | None:
    """The IAM role ARN behind an ``sts::…:assumed-role/ROLE/SESSION`` ARN (or a role ARN itself); None
    otherwise. A session ARN carries no role path: the role ARN is given without one."""
    return principal(text).role_arn


# ---------------------------------------------------------------------------------------------- building
def build(service: str, resource: str, *, account: str = "", region: str = "", partition: str = "aws") -> str:
    """``arn:{partition}:{service}:{region}:{account}:{resource}``."""
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def _iam(account: str, kind: str, name: str, path: str, partition: str) -> str:
    path = path if path.startswith("/") and path.endswith("/") else f"/{path.strip('/')}/".replace("//", "/")
    return build("iam", f"{kind}{path}{name}", account=account, partition=partition)


def user_arn(account: str, name: str, path: str = "/", *, partition: str = "aws") -> str:
    return _iam(account, "user", name, path, partition)


def role_arn(account: str, name: str, path: str = "/", *, partition: str = "aws") -> str:
    return _iam(account, "role", name, path, partition)


def group_arn(account: str, name: str, path: str = "/", *, partition: str = "aws") -> str:
    return _iam(account, "group", name, path, partition)


def policy_arn(account: str, name: str, path: str = "/", *, partition: str = "aws") -> str:
    """A managed policy; ``account="aws"`` for an AWS-managed one."""
    return _iam(account, "policy", name, path, partition)


def root_arn(account: str, *, partition: str = "aws") -> str:
    return build("iam", "root", account=account, partition=partition)


def assumed_role_arn(account: str, role_name: str, session: str, *, partition: str = "aws") -> str:
    return build("sts", f"assumed-role/{role_name}/{session}", account=account, partition=partition)
