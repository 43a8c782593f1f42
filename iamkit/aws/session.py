"""AWS sessions: profiles, environment credentials, SSO profiles, role chains, ``AWS_ENDPOINT_URL``.

An ``AwsContext`` is one identity in one account: it makes thread-safe, cached boto3 clients with
botocore adaptive retries and any installed hooks (fault injection, call recording), and can assume a
role into another account, which returns a new context that keeps the same hooks and settings.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from iamkit import config
from iamkit.arn import ROLE, assumed_role_arn, name_of, parse, principal
from iamkit.errors import AccessDenied, BadInput, EndpointUnreachable

Hook = Callable[[Any, str], None]  # (client, account_id) -> None: registers handlers on client.meta.events

_HOST_PREFIX_RE = re.compile(r"^(https?://)\d{12}\.((?:\d{1,3}\.){3}\d{1,3}|localhost|\[[0-9a-f:]+\])([:/])")
_LOADER_LOCK = threading.Lock()
_LOADER: Any = None
_CREATE_LOCK = threading.RLock()  # boto3 sessions are not thread-safe while creating clients


def _shared_loader() -> Any:
    """One botocore data loader for every session, so service models are parsed once per process."""
    global _LOADER
    with _LOADER_LOCK:
        if _LOADER is None:
            import botocore.loaders

            _LOADER = botocore.loaders.create_loader()
        return _LOADER


_CLASS_CACHE_ATTR = "_iamkit_client_classes"
_PATCH_LOCK = threading.Lock()
_PATCHED = False


def _share_client_classes(core: Any) -> None:
    """Build each service's client class and service model once per session, not once per client.

    botocore rebuilds both for every client (a class with a method per operation, a ``ServiceModel``
    whose operation caches start cold); a fan-out makes a dozen clients per account that differ only in
    credentials, and that rebuilding was a quarter of the collector's CPU. Only sessions made by
    ``new_session`` (marked on their event emitter) share; other botocore users are untouched. The
    ``creating-client-class`` handlers run once per service, when its class is first built.
    """
    global _PATCHED
    with _PATCH_LOCK:
        if not _PATCHED:
            from botocore.client import ClientCreator

            make_class, load_model = ClientCreator._create_client_class, ClientCreator._load_service_model

            def _shared(creator: Any, key: tuple, build: Callable[[], Any]) -> Any:
                cache = getattr(creator._event_emitter, _CLASS_CACHE_ATTR, None)
                if cache is None:  # not an iamkit session: botocore as usual
                    return build()
                with _PATCH_LOCK:
                    found = cache.get(key)
                if found is None:
                    found = build()
                    with _PATCH_LOCK:
                        found = cache.setdefault(key, found)
                return found

            def _create_client_class(self: Any, service_name: str, service_model: Any) -> Any:
                return _shared(
                    self,
                    ("class", service_name, id(service_model)),
                    lambda: make_class(self, service_name, service_model),
                )

            def _load_service_model(self: Any, service_name: str, api_version: str | None = None) -> Any:
                return _shared(
                    self, ("model", service_name, api_version), lambda: load_model(self, service_name, api_version)
                )

            ClientCreator._create_client_class = _create_client_class
            ClientCreator._load_service_model = _load_service_model
            _PATCHED = True
    setattr(core.get_component("event_emitter"), _CLASS_CACHE_ATTR, {})


def fast_timestamp(value: Any) -> Any:
    """botocore's timestamp parser with a fast path for the ISO-8601 text AWS query APIs return.

    botocore parses every timestamp with dateutil, about a quarter of the collector's CPU on a large
    GetAccountAuthorizationDetails; ``datetime.fromisoformat`` reads the same text ~50x faster. Anything
    else (epoch numbers, RFC 822) goes to botocore's own parser, so results are identical.
    """
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    from botocore.utils import parse_timestamp

    return parse_timestamp(value)


def _strip_account_host_prefix(request: Any, **_: Any) -> None:
    """S3 Control prefixes the host with the account id; a loopback endpoint cannot resolve that."""
    request.url = _HOST_PREFIX_RE.sub(r"\1\2\3", request.url)


def _no_retry_on_html(response: Any = None, **_: Any) -> bool | None:
    """A web page instead of an AWS error means the endpoint lacks the API: retrying cannot help."""
    if not response or response[0] is None:
        return None
    head = (response[0].content or b"")[:64].lstrip().lower()
    return False if head.startswith((b"<!doctype html", b"<html")) else None


def new_session(
    profile: str | None = None,
    region: str | None = None,
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
) -> Any:
    """A boto3 session sharing the process-wide model loader (profiles, SSO and env credentials apply)."""
    import boto3
    import botocore.session

    core = botocore.session.Session(profile=profile)
    if profile and profile not in core.available_profiles:
        known = ", ".join(sorted(core.available_profiles)) or "none"
        raise BadInput(f"cannot open AWS profile {profile!r}: not in the AWS config files (known: {known})")
    core.register_component("data_loader", _shared_loader())
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=fast_timestamp)
    _share_client_classes(core)
    try:
        return boto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region,
            botocore_session=core,
        )
    except Exception as e:  # botocore.exceptions.ProfileNotFound and friends
        raise BadInput(f"cannot open AWS profile {profile!r}: {e}") from e


@dataclass
class AwsContext:
    """One identity (account, ARN) with a client factory; ``assume`` hops into another account."""

    session: Any
    region: str
    account_id: str = ""
    arn: str = ""
    endpoint_url: str | None = None
    retry_mode: str = "adaptive"
    max_attempts: int | None = None  # None: the max_attempts setting
    max_pool_connections: int = 32
    hooks: list[Hook] = field(default_factory=list)
    sleep: Callable[[float], None] = time.sleep
    credentials: dict[str, str] | None = field(default=None, repr=False)  # assumed-role keys, else the session's
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client for ``service`` in ``region`` (default: the context's region)."""
        region = region or self.region
        key = (service, region)
        with self._lock:
            c = self._clients.get(key)
            if c is None:
                cfg = client_config(
                    retry_mode=self.retry_mode,
                    max_attempts=self.max_attempts,
                    max_pool_connections=self.max_pool_connections,
                )
                with _CREATE_LOCK:  # one session for every account: its client classes are built once
                    c = self.session.client(
                        service,
                        region_name=region,
                        endpoint_url=self.endpoint_url,
                        config=cfg,
                        **(self.credentials or {}),
                    )
                service_id = c.meta.service_model.service_id.hyphenize()
                c.meta.events.register_first(f"needs-retry.{service_id}", _no_retry_on_html)
                if service == "s3control":
                    c.meta.events.register("before-sign.s3-control", _strip_account_host_prefix)
                for hook in self.hooks:
                    hook(c, self.account_id)
                self._clients[key] = c
            return c

    def whoami(self) -> AwsContext:
        """Fill ``account_id`` and ``arn`` from GetCallerIdentity; clear errors for the usual failures."""
        import botocore.exceptions as bx

        try:
            ident = self.client("sts").get_caller_identity()
        except bx.NoCredentialsError as e:
            raise BadInput("no AWS credentials found (set a profile, environment credentials or SSO login)") from e
        except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError) as e:
            raise EndpointUnreachable(f"AWS endpoint unreachable: {e}") from e
        except bx.SSLError as e:
            raise EndpointUnreachable(f"AWS endpoint's TLS certificate was refused: {e}") from e
        except bx.ClientError as e:
            err = e.response.get("Error", {})
            raise AccessDenied(f"GetCallerIdentity failed: {err.get('Code')}: {err.get('Message')}") from e
        except bx.BotoCoreError as e:
            raise BadInput(f"cannot use these AWS credentials: {e}") from e
        self.account_id, self.arn = ident["Account"], ident["Arn"]
        with self._lock:  # hooks were given the account id at client creation: recreate with the real one
            self._clients.clear()
        return self

    def assume(
        self, role_arn: str, *, external_id: str | None = None, session_name: str | None = None, duration: int = 3600
    ) -> AwsContext:
        """AssumeRole into ``role_arn``; the new context keeps hooks, retries and endpoint.

        Raises botocore ``ClientError`` unchanged so fan-out can record it as an ``errors`` row.
        """
        kwargs: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": _session_name(session_name),
            "DurationSeconds": duration,
        }
        if external_id:
            kwargs["ExternalId"] = external_id
        creds = self.client("sts").assume_role(**kwargs)["Credentials"]
        keys = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        role = parse(role_arn)
        account = role.account if role is not None else ""
        assumed = assumed_role_arn(
            account,
            name_of(role_arn),
            kwargs["RoleSessionName"],
            partition=role.partition if role is not None else "aws",
        )
        return replace(self, credentials=keys, account_id=account, arn=assumed, _clients={}, _lock=threading.Lock())


def as_context(session: Any, *, region: str | None = None, account_id: str = "") -> AwsContext:
    """An ``AwsContext`` over a boto3 session someone else opened (a context is returned as it is), so its
    clients get iamkit's retries, time limits and hooks like every other."""
    if isinstance(session, AwsContext):
        return session
    return AwsContext(
        session=session,
        account_id=account_id,
        region=region or getattr(session, "region_name", None) or config.load().region,
    )


def client_config(
    *, retry_mode: str = "adaptive", max_attempts: int | None = None, max_pool_connections: int = 10
) -> Any:
    """The botocore ``Config`` every iamkit client uses: retries and time limits from the settings.

    Bounded on purpose: an endpoint that accepts connections and never answers fails after about
    ``(connect_timeout + read_timeout) × max_attempts`` seconds instead of botocore's minutes.
    """
    from botocore.config import Config

    s = config.load()
    attempts = s.max_attempts if max_attempts is None else max_attempts
    return Config(
        retries={"mode": retry_mode, "max_attempts": attempts},
        connect_timeout=s.connect_timeout,
        read_timeout=s.read_timeout,
        max_pool_connections=max_pool_connections,
        user_agent_extra="iamkit",
    )


def _session_name(name: str | None) -> str:
    """A valid RoleSessionName (2-64 chars of ``[\\w+=,.@-]``) that identifies the case."""
    name = re.sub(r"[^\w+=,.@-]", "-", name or "iamkit-inventory")[:64]
    return name if len(name) >= 2 else f"iamkit-{name}"


def connect(
    profile: str | None = None,
    region: str | None = None,
    role_arn: str | Sequence[str] | None = None,
    external_id: str | None = None,
    session_name: str | None = None,
    *,
    endpoint_url: str | None = None,
    retry_mode: str = "adaptive",
    max_attempts: int | None = None,
    hooks: Sequence[Hook] = (),
    sleep: Callable[[float], None] | None = None,
    verify: bool = True,
) -> AwsContext:
    """Open an ``AwsContext`` from a profile (or env/SSO credentials), optionally through a role chain.

    ``role_arn`` may be one ARN, a comma-separated chain or a list, assumed in order.
    ``AWS_ENDPOINT_URL`` (and per-service variants) are honoured by botocore itself.
    """
    session = new_session(profile, region)
    ctx = AwsContext(
        session=session,
        region=region or session.region_name or config.load().region,
        endpoint_url=endpoint_url,
        retry_mode=retry_mode,
        max_attempts=max_attempts,
        hooks=list(hooks),
        sleep=sleep or time.sleep,
    )
    chain = [r.strip() for r in role_arn.split(",")] if isinstance(role_arn, str) else list(role_arn or [])
    if verify or chain:
        ctx.whoami()
    for arn in chain:
        if principal(arn).kind != ROLE:
            raise BadInput(f"not a role ARN: {arn!r}")
        import botocore.exceptions as bx

        try:
            ctx = ctx.assume(arn, external_id=external_id, session_name=session_name)
        except bx.ClientError as e:
            err = e.response.get("Error", {})
            raise AccessDenied(
                f"cannot assume {arn}: {err.get('Code')}: {err.get('Message')}", permission="sts:AssumeRole"
            ) from e
    return ctx
