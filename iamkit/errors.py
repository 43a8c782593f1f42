"""Error types. Every error a user can cause is an ``IamkitError`` with a one-line message.

The CLI maps ``BadInput`` to exit status 2 and prints only the message; anything else is a bug.
"""

from __future__ import annotations


class IamkitError(Exception):
    """Base of every error iamkit raises on purpose."""

    exit_code = 1


class BadInput(IamkitError):
    """The caller gave something unusable: a malformed file, an unknown name, a missing parameter."""

    exit_code = 2


class NotFound(BadInput):
    """A named thing (playbook, key, user, case) does not exist."""


class EndpointUnreachable(BadInput):
    """An AWS, Graph or sandbox endpoint did not answer."""


class PolicyError(BadInput):
    """A policy document cannot be parsed or evaluated."""


class TrailError(BadInput):
    """A CloudTrail source cannot be read."""


class CaseIntegrityError(IamkitError):
    """A case folder's manifest does not match its files."""

    exit_code = 1


class RemediationError(IamkitError):
    """A remediation plan cannot be applied or undone safely."""

    exit_code = 1


class AccessDenied(IamkitError):
    """A cloud API refused the caller; ``permission`` names what was missing when known."""

    def __init__(self, message: str, permission: str | None = None):
        super().__init__(message)
        self.permission = permission
