"""Typed Microsoft Graph errors: what failed, and what the analyst can do about it.

Each carries the HTTP ``status``, Graph's error ``code``, the ``request_id`` (client-request-id) and the ``url``
so a failure can be reported in an ``errors`` frame; none ever carries a token or a secret.
"""

from __future__ import annotations

from iamkit.errors import AccessDenied, IamkitError, NotFound


class GraphError(IamkitError):
    """Any error answered by Graph or the Entra authority."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        url: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.url = url


class AuthFailed(GraphError):
    """No token could be obtained (bad client secret, unknown tenant, declined device code)."""


class LicenceRequired(GraphError):
    """The tenant lacks the licence an endpoint needs (``licence`` is ``P1`` or ``P2``).

    ``alternative`` names a permission that would explain the refusal as well, when Graph's answer cannot tell
    the two apart (Identity Protection's bare 403 with a token whose permissions are unknown).
    """

    def __init__(self, message: str, *, licence: str = "P1", alternative: str | None = None, **kw):
        super().__init__(message, **kw)
        self.licence = licence
        self.alternative = alternative

    @property
    def skipped(self) -> str:
        """The line a notebook shows instead of failing."""
        return f"needs Entra ID {self.licence}" + (f" or {self.alternative}" if self.alternative else "")


class PermissionDenied(GraphError, AccessDenied):
    """The app or user lacks a Graph permission; ``permission`` names the one the endpoint needs."""

    def __init__(self, message: str, *, permission: str | None = None, **kw):
        super().__init__(message, **kw)
        self.permission = permission


class GraphNotFound(GraphError, NotFound):
    """The user, group or object does not exist in the tenant."""


class Throttled(GraphError):
    """Still throttled (429/503) after every retry; ``retry_after`` is the last hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class TokenExpired(GraphError):
    """The access token expired and could not be renewed (a static token, or a refresh that failed)."""


class ExpiredSkipToken(GraphError):
    """A paging skip token expired mid-pull; the time slice it belonged to must be fetched again."""
