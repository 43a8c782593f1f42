"""The local sandbox: moto's server on 127.0.0.1, a seeded organization, a scripted incident, its
CloudTrail, and (when available) the fake Entra authority + Graph — the default target of demo and tests.

    sb = iamkit.sandbox.start()        # or: with iamkit.sandbox.start() as sb: ...
    sb.env()                           # AWS_ENDPOINT_URL, keys, region, Entra URLs …
    sb.org                             # SeededOrg: the ground truth (also sb.workdir / "manifest.json")

The sandbox is an optional extra (``pip install 'iamkit[sandbox]'``): this module imports without moto, and
``start`` says in one line what to install when it is missing.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamkit.errors import BadInput, NotFound, TrailError
from iamkit.sandbox.model import SeededOrg

log = logging.getLogger(__name__)

__all__ = ["Sandbox", "SeededOrg", "require_extra", "start"]

MISSING_EXTRA = "the sandbox needs moto: install iamkit[sandbox] (pip install 'iamkit[sandbox]')"


def require_extra() -> None:
    """Raise ``BadInput`` (one line saying what to install) when the sandbox extra is not installed."""
    try:
        found = importlib.util.find_spec("moto") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise BadInput(MISSING_EXTRA)


@dataclass
class Sandbox:
    """A running sandbox: endpoint, ground truth, work dir, and what clients need to reach it."""

    endpoint_url: str
    org: SeededOrg
    workdir: Path
    access_key_id: str  # the management account's operator key (moto maps it to that account)
    trail_stats: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what was skipped (e.g. missing trail generator)
    now: datetime | None = None  # the clock the seeding and the trail hang off (the trail ends there)
    _server: Any = field(default=None, repr=False)
    _entra: Any = field(default=None, repr=False)
    _receivers: Any = field(default=None, repr=False)  # fake Slack/Teams/PagerDuty + the SNS topic
    _sessions: dict[str, Any] = field(default_factory=dict, repr=False)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    @property
    def manifest_path(self) -> Path:
        return self.workdir / "manifest.json"

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 (and the Entra side, if running) at the sandbox."""
        from iamkit.sandbox.server import FAKE_SECRET

        env = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
            "AWS_DEFAULT_REGION": self.org.region,
            "AWS_REGION": self.org.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.workdir / "aws-config-none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.workdir / "aws-credentials-none"),
            "IAMKIT_SANDBOX_MANIFEST": str(self.manifest_path),
            "IAMKIT_SANDBOX_DIR": str(self.workdir),
        }
        if self._entra is not None:
            env.update(self._entra.env())
        if self._receivers is not None:
            env.update(self._receivers.env())
        return env

    @property
    def receivers(self) -> Any:
        """The fake notification receivers (``iamkit.sandbox.receivers``): what each one received."""
        return self._receivers

    def session(self, account_id: str | None = None) -> Any:
        """A boto3 Session acting in ``account_id`` (default: the management account); cached per account."""
        from iamkit.sandbox.server import account_session

        account_id = account_id or self.org.management_account_id
        if account_id not in self._sessions:
            if account_id not in {a.account_id for a in self.org.accounts}:
                raise NotFound(f"account {account_id} is not in the sandbox organization {self.org.org_id}")
            if account_id == self.org.management_account_id:
                sess = account_session(
                    self.endpoint_url, None, access_key_id=self.access_key_id, region=self.org.region
                )
            else:
                sess = account_session(self.endpoint_url, account_id, region=self.org.region)
            self._sessions[account_id] = sess
        return self._sessions[account_id]

    def client(self, service: str, account_id: str | None = None) -> Any:
        """A boto3 client on the sandbox endpoint for ``service`` in ``account_id`` (cached)."""
        from iamkit.sandbox.server import client

        key = (service, account_id or self.org.management_account_id)
        if key not in self._clients:
            self._clients[key] = client(self.session(account_id), service, self.endpoint_url, self.org.region)
        return self._clients[key]

    def stop(self) -> None:
        """Stop the fake Entra and the moto server (moto's in-process state stays until the process ends)."""
        if self._receivers is not None:
            self._receivers.stop()
            self._receivers = None
        if self._entra is not None:
            try:
                self._entra.stop()
            finally:
                self._entra = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    accounts: int = 4,
    roles_per_account: int = 40,
    scenario: str | None = "compromised-access-key",
    seed: int = 7,
    benign_events: int = 5000,
    days: int = 14,
    local_trail_dir: str | Path | None = None,
    entra: bool = True,
    *,
    workdir: str | Path | None = None,
    now: datetime | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    variant: str = "default",
) -> Sandbox:
    """Start moto on loopback, seed it deterministically from ``seed`` and write the scenario manifest.

    ``accounts`` = member accounts (>= 4); ``roles_per_account`` is filled with generic roles on top of the
    fixed ones (risks, SSO, admin access), which are a floor (~15 in the first Prod account): ``org.counts``
    says what was seeded. ``now`` fixes the clock all seeded dates hang off (byte-identical manifests);
    ``workdir`` defaults to a fresh temporary directory. Several sandboxes can share one process only with
    different seeds (moto's state is process-global; the seed picks the account ids). ``variant`` picks a
    variant of the scenario (``iamkit.sandbox.scenario.VARIANTS``); the manifest carries the answer keys of
    the incident (``SeededOrg.answer_keys``).
    """
    require_extra()
    from iamkit.sandbox import backend
    from iamkit.sandbox import seed as seed_mod
    from iamkit.sandbox.server import start_server

    seed_mod.validate(accounts, roles_per_account, scenario, variant)
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise BadInput(f"the sandbox listens on loopback only (127.0.0.1, localhost, ::1), not {host!r}")
    backend.check_internals()
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    wd = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="iamkit-sandbox-"))
    wd.mkdir(parents=True, exist_ok=True)
    server = start_server(host, port)
    try:
        server.seed_random(seed)
        org, ctx = seed_mod.seed_all(
            server.endpoint_url,
            seed=seed,
            accounts=accounts,
            roles_per_account=roles_per_account,
            scenario=scenario,
            now=now,
            variant=variant,
        )
        sb = Sandbox(
            endpoint_url=server.endpoint_url,
            org=org,
            workdir=wd,
            access_key_id=ctx.cache["operator_key"],
            now=now,
            _server=server,
        )
        sb.trail_stats = _write_trail(
            sb,
            benign_events=benign_events,
            days=days,
            seed=seed,
            local_trail_dir=local_trail_dir,
            scenario=scenario,
            now=now,
        )
        if sb.trail_stats and org.incident is not None:
            from iamkit.sandbox import answers, trailgen

            org.answer_keys = answers.answer_keys(org, trailgen.scenario_records(org, days=days, end=now, seed=seed))
        sb.manifest_path.write_text(org.to_json())
        if entra:
            trail_kw = {
                "benign_events": benign_events,
                "days": days,
                "seed": seed,
                "end": now,
                "scenario": scenario if scenario and scenario != "none" else None,
            }
            sb._entra = _start_entra(sb, now, trail_kw if sb.trail_stats else None)
        from iamkit.sandbox import receivers

        sb._receivers = receivers.start()
    except BaseException:
        server.stop()
        raise
    return sb


def _write_trail(
    sb: Sandbox,
    *,
    benign_events: int,
    days: int,
    seed: int,
    local_trail_dir: str | Path | None,
    scenario: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Write the CloudTrail files with the trail generator (H3b's ``trailgen``), if it is there."""
    try:
        from iamkit.sandbox import trailgen
    except ImportError as e:
        msg = f"trail generator iamkit.sandbox.trailgen not available ({e}); no CloudTrail written"
        log.warning(msg)
        sb.notes.append(msg)
        return {}
    from iamkit.sandbox.backend import BulkS3Writer

    s3 = BulkS3Writer(next(a.account_id for a in sb.org.accounts if a.ou == "Security"))
    dest_dir = Path(local_trail_dir) if local_trail_dir else None
    try:
        stats = trailgen.write_trail(
            sb.org,
            dest_s3=(s3, sb.org.trail_bucket),
            dest_dir=dest_dir,
            benign_events=benign_events,
            days=days,
            seed=seed,
            end=now,
            scenario=scenario if scenario and scenario != "none" else None,
        )
    except TrailError as e:  # some files failed to upload: the rest is written; keep the sandbox, say so
        msg = f"CloudTrail partly written: {e}"
        log.warning(msg)
        sb.notes.append(msg)
        return {"errors": [str(e)]}
    return stats or {}


def _start_entra(sb: Sandbox, now: datetime, trail_kw: dict[str, Any] | None = None) -> Any:
    """Start the fake Entra (``iamkit.sandbox.entra``) on the same people; its sign-ins to the AWS access
    portal are the Identity Center logins the trail generator wrote (same parameters, so the same records),
    so Entra sign-ins and AWS sessions agree in time and IP as they would for real."""
    try:
        from iamkit.sandbox import entra
    except ImportError as e:
        msg = f"fake Entra iamkit.sandbox.entra not available ({e}); Entra env vars not set"
        log.warning(msg)
        sb.notes.append(msg)
        return None
    aws_signins = None
    if trail_kw is not None:
        from iamkit.sandbox import entra_data, trailgen

        aws_signins = entra_data.signins_from_trail(
            sb.org, [r for r in trailgen.generate(sb.org, **trail_kw) if r.get("eventName") == "Authenticate"]
        )
    return entra.start(sb.org, sb.workdir / "entra", now=now, aws_signins=aws_signins)
