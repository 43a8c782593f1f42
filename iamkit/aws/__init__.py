"""AWS access: sessions (``connect``), organization fan-out, collectors, fault injection.

``ik.aws.connect(profile=None, region=None, role_arn=None, external_id=None, session_name=None)``
returns an ``AwsContext``; boto3/botocore load only when this package is used.
"""

from __future__ import annotations

from iamkit.aws.session import AwsContext, connect

__all__ = ["AwsContext", "connect"]
