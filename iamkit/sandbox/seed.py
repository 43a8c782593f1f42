"""Seed a moto server with an organization, IAM, resources, Identity Center and a scripted incident.

Deterministic from the seed: our own ``random.Random(seed)`` picks names and ages, moto's random is
seeded through ``/moto-api/seed`` and every call runs in a fixed order, so moto's ids repeat too.
All dates are relative to ``now`` (pass it to get byte-identical manifests).
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from iamkit.errors import BadInput, IamkitError
from iamkit.sandbox.model import SeededOrg
from iamkit.sandbox.server import ACCOUNT_HEADER, FAKE_SECRET, REGION

MAX_ROLES = 500
OPERATOR_USER = "iamkit-sandbox-operator"


@dataclass
class Ctx:
    """Everything a seeding step needs: the endpoint, the RNG, the clock, the org being filled, clients."""

    endpoint_url: str
    rng: random.Random
    now: datetime
    org: SeededOrg
    roles_per_account: int
    cache: dict[str, Any] = field(default_factory=dict)  # per-run memo (e.g. SAML providers per account)
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    _session: Any = None

    def client(
        self,
        service: str,
        account_id: str,
        access_key_id: str | None = None,
        session_token: str | None = None,
    ) -> Any:
        """A cached boto3 client for ``service`` acting in ``account_id`` (moto's account header)."""
        key = (service, account_id, access_key_id or "")
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            if self._session is None:  # one session (one model loader) for every client
                self._session = boto3.Session(region_name=REGION)
            c = self._session.client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=REGION,
                # with a key: moto maps it to its account; without: the account header says which
                aws_access_key_id=access_key_id or "AKIAIOSFODNN7SANDBOX",
                aws_secret_access_key=FAKE_SECRET,
                aws_session_token=session_token,
                config=Config(retries={"max_attempts": 1}),
            )
            if not access_key_id:

                def _hdr(request: Any, _acct: str = account_id, **_: Any) -> None:
                    request.headers[ACCOUNT_HEADER] = _acct

                c.meta.events.register("before-sign", _hdr)
            self._clients[key] = c
        return self._clients[key]

    def ago(self, days: float = 0, hours: float = 0) -> datetime:
        """``now`` minus a duration (tz-aware UTC)."""
        return (self.now - timedelta(days=days, hours=hours)).replace(microsecond=0)

    def hex(self, n: int) -> str:
        """``n`` lowercase hex chars from the seeded RNG."""
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def upper_id(self, prefix: str, n: int = 17) -> str:
        """An AWS-style id (``AIDA…``) from the seeded RNG."""
        return prefix + "".join(self.rng.choice(string.ascii_uppercase + "234567") for _ in range(n))


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 UTC with a trailing Z, seconds precision (the manifest's date format)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def doc(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """A policy document from its statements."""
    return {"Version": "2012-10-17", "Statement": statements}


def dumps(d: dict[str, Any]) -> str:
    return json.dumps(d, separators=(",", ":"))


def management_account_id(seed: int) -> str:
    """The management account id for a seed (moto makes the members' ids from its seeded random)."""
    r = random.Random(f"iamkit-management-{seed}")
    return str(r.randint(1, 9)) + "".join(str(r.randint(0, 9)) for _ in range(11))


def check_free(management_id: str) -> None:
    """Refuse to seed twice into the same moto process with the same seed (moto's backends are global)."""
    from moto.organizations.models import organizations_backends

    backend_ = organizations_backends[management_id]["aws"]
    if backend_.org is not None:
        raise IamkitError(
            f"a sandbox with management account {management_id} already lives in this process "
            "(same seed twice in one process: use another seed or another process)"
        )


def validate(accounts: int, roles_per_account: int, scenario: str | None, variant: str | None = None) -> None:
    """BadInput for sizes or a scenario (variant) the sandbox cannot seed (checked before anything starts)."""
    from iamkit.sandbox import scenario as scenario_mod

    if accounts < 4:
        raise BadInput(f"--accounts must be at least 4 (Security, Prod, Dev, Sandbox), got {accounts}")
    if not 1 <= roles_per_account <= MAX_ROLES:
        raise BadInput(f"--roles-per-account must be between 1 and {MAX_ROLES}, got {roles_per_account}")
    if scenario not in (None, "", "none", *scenario_mod.SCENARIOS):
        raise BadInput(f"unknown scenario {scenario!r}; known: {', '.join(scenario_mod.SCENARIOS)}")
    if scenario and scenario != "none":
        scenario_mod.check_variant(scenario, variant)
    elif variant not in (None, "", "default"):
        raise BadInput(f"--variant {variant} needs a scenario")


def seed_all(
    endpoint_url: str,
    *,
    seed: int,
    accounts: int,
    roles_per_account: int,
    scenario: str | None,
    now: datetime,
    variant: str = "default",
) -> tuple[SeededOrg, Ctx]:
    """Seed everything but the trail; return the filled ``SeededOrg`` and the context (for the trail step)."""
    from iamkit.sandbox import scenario as scenario_mod
    from iamkit.sandbox import seed_iam, seed_identity_center, seed_org, seed_resources

    validate(accounts, roles_per_account, scenario, variant)
    mgmt = management_account_id(seed)
    check_free(mgmt)
    org = SeededOrg(seed=seed, org_id="", management_account_id=mgmt, region=REGION)
    ctx = Ctx(
        endpoint_url=endpoint_url,
        rng=random.Random(seed),
        now=now,
        org=org,
        roles_per_account=roles_per_account,
    )
    seed_org.seed_organization(ctx, members=accounts)
    seed_identity_center.seed_people(ctx)
    seed_identity_center.seed_identity_center(ctx)
    seed_iam.seed_iam(ctx)
    seed_resources.seed_resources(ctx)
    seed_org.seed_trail(ctx)
    if scenario and scenario != "none":
        scenario_mod.run(ctx, scenario, variant)
    org.counts = seed_iam.counts(ctx)
    return org, ctx
