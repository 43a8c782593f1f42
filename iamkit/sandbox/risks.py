"""The kinds of deliberate risk the sandbox seeds (``Risk.kind``), with the issue-5 rule family that must
find each, and the safe look-alikes no rule may flag. ``Risk.arn`` is the principal for principal risks
(for key risks the user, with ``Risk.access_key_id``) and the resource for exposure risks."""

from __future__ import annotations

# kind -> (rule family, what it is)
RISK_KINDS: dict[str, tuple[str, str]] = {
    "wildcard-admin-policy": ("over-privileged", "a customer-managed policy granting *:* attached to a role"),
    "iam-star": ("over-privileged", "a customer-managed policy granting iam:* on * attached to a user"),
    "passrole-lambda": ("privilege-escalation", "iam:PassRole on * with lambda:CreateFunction/InvokeFunction"),
    "root-principal-trust": ("unsafe-trust", "a role trusting another account's :root with no condition"),
    "star-trust": ("unsafe-trust", "a role trusting Principal AWS '*' with no condition"),
    "star-trust-conditional": ("unsafe-trust", "a role trusting '*' guarded only by an sts:ExternalId"),
    "cross-account-no-external-id": ("unsafe-trust", "a third-party account (outside the org) without ExternalId"),
    "third-party-trust": ("unsafe-trust", "a role trusting an account outside the organization"),
    "github-oidc-no-sub": ("unsafe-trust", "GitHub OIDC trust checking the audience only, no sub"),
    "service-trust-no-source-account": ("unsafe-trust", "service principal trust without aws:SourceAccount/Arn"),
    "long-session-admin": ("unsafe-trust", "an AdministratorAccess role with a 12-hour max session"),
    "user-no-mfa": ("credentials", "a console user without an MFA device"),
    "old-access-key": ("credentials", "an active access key older than 90 days"),
    "unused-access-key": ("credentials", "an active access key never used"),
    "two-active-keys": ("credentials", "a user with two active access keys"),
    "stale-role": ("posture", "a role not used for > 90 days (or never)"),
    "public-bucket": ("exposure", "a bucket policy granting s3:GetObject to '*'"),
    "open-kms-key": ("exposure", "a key policy letting '*' decrypt with no condition"),
    "cross-account-secret": ("exposure", "a secret readable by an account outside the organization"),
    # safe look-alikes (Risk.safe = True): none of these may be flagged
    "safe-cross-account-external-id": ("safe", "cross-account trust from an org role WITH ExternalId + PrincipalOrgID"),
    "safe-wildcard-denied": ("safe", "an Allow *:* cancelled by an explicit Deny *:*"),
    "safe-github-oidc-sub": ("safe", "GitHub OIDC trust restricted to one repository and branch"),
    "safe-bucket-org-restricted": ("safe", "a bucket policy Principal '*' restricted by aws:PrincipalOrgID"),
}
