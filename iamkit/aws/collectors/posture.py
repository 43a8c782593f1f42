"""Detective-control posture of one account and region: CloudTrail trails, IAM Access Analyzer
analyzers and their active findings, GuardDuty detectors."""

from __future__ import annotations

from typing import Any

from iamkit.aws.calls import Scope
from iamkit.aws.collectors import Rows


def _row(scope: Scope, control: str, arn: str | None, status: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "account_id": scope.account_id,
        "region": scope.region,
        "control": control,
        "resource_arn": arn,
        "status": status,
        "detail": detail,
    }


def trails(scope: Scope) -> list[dict[str, Any]]:
    """Trails visible in this region (home-region trails only; shadow copies are skipped)."""
    rows = []
    listing = scope.call("cloudtrail", "DescribeTrails", includeShadowTrails=False) or {}
    for t in listing.get("trailList") or []:
        arn = t.get("TrailARN")
        status = scope.call("cloudtrail", "GetTrailStatus", Name=arn) or {}
        logging = status.get("IsLogging")
        rows.append(
            _row(
                scope,
                "cloudtrail.trail",
                arn,
                "logging" if logging else "not_logging",
                {
                    "name": t.get("Name"),
                    "home_region": t.get("HomeRegion"),
                    "multi_region": t.get("IsMultiRegionTrail"),
                    "organization_trail": t.get("IsOrganizationTrail"),
                    "is_logging": logging,
                    "log_file_validation": t.get("LogFileValidationEnabled"),
                    "kms_key_id": t.get("KmsKeyId"),
                    "encrypted": bool(t.get("KmsKeyId")),
                    "s3_bucket": t.get("S3BucketName"),
                    "s3_prefix": t.get("S3KeyPrefix"),
                    "include_global_events": t.get("IncludeGlobalServiceEvents"),
                    "latest_delivery_error": status.get("LatestDeliveryError"),
                },
            )
        )
    return rows


def analyzers(scope: Scope, max_findings: int = 1000) -> list[dict[str, Any]]:
    """Access Analyzer analyzers and their active findings (where the endpoint supports it)."""
    rows = []
    for a in scope.pages("accessanalyzer", "ListAnalyzers", "analyzers") or []:
        arn = a.get("arn")
        rows.append(
            _row(
                scope,
                "access_analyzer.analyzer",
                arn,
                str(a.get("status", "")).lower(),
                {"name": a.get("name"), "type": a.get("type")},
            )
        )
        findings = (
            scope.pages(
                "accessanalyzer", "ListFindings", "findings", analyzerArn=arn, filter={"status": {"eq": ["ACTIVE"]}}
            )
            or []
        )
        for f in findings[:max_findings]:
            rows.append(
                _row(
                    scope,
                    "access_analyzer.finding",
                    f.get("resource"),
                    str(f.get("status", "")).lower(),
                    {
                        "id": f.get("id"),
                        "analyzer_arn": arn,
                        "resource_type": f.get("resourceType"),
                        "principal": f.get("principal"),
                        "action": f.get("action"),
                        "condition": f.get("condition"),
                        "is_public": f.get("isPublic"),
                        "resource_owner_account": f.get("resourceOwnerAccount"),
                    },
                )
            )
    return rows


def detectors(scope: Scope) -> list[dict[str, Any]]:
    """GuardDuty detectors and whether they are enabled."""
    rows = []
    for d in scope.pages("guardduty", "ListDetectors", "DetectorIds") or []:
        det = scope.call("guardduty", "GetDetector", DetectorId=d) or {}
        rows.append(
            _row(
                scope,
                "guardduty.detector",
                d,
                str(det.get("Status", "unknown")).lower(),
                {
                    "finding_publishing_frequency": det.get("FindingPublishingFrequency"),
                    "service_role": det.get("ServiceRole"),
                },
            )
        )
    return rows


def collect(scope: Scope) -> Rows:
    """Posture rows for ``scope``'s account and region."""
    return {"posture": trails(scope) + analyzers(scope) + detectors(scope)}
