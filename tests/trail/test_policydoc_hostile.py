"""The document checks read hostile request parameters: any JSON shape gives a list of reasons (maybe
empty), never an exception, and a deeply nested value is walked to a bounded depth."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.trail.detect import policydoc

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.sampled_from(["all", "999999999999", "*", "AllUsers", "restore", "add", "items"]),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "add",
                    "items",
                    "userId",
                    "group",
                    "attributeName",
                    "valuesToAdd",
                    "createVolumePermission",
                    "launchPermission",
                    "bucketPolicy",
                    "Statement",
                    "Effect",
                    "Principal",
                    "Condition",
                    "Rule",
                    "Destination",
                    "Account",
                    "ReplicationConfiguration",
                    "PublicAccessBlockConfiguration",
                    "URI",
                    "x",
                ]
            ),
            kids,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "createVolumePermission",
                "launchPermission",
                "attributeName",
                "valuesToAdd",
                "bucketPolicy",
                "AccessControlPolicy",
                "x-amz-acl",
                "PublicAccessBlockConfiguration",
                "ReplicationConfiguration",
                "bucketName",
                "snapshotId",
            ]
        ),
        JSON,
        max_size=6,
    ),
    event=st.sampled_from(
        ["PutBucketPolicy", "PutBucketAcl", "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"]
    ),
)
def test_any_shape_gives_reasons_not_exceptions(params, event):
    for reasons in (
        policydoc.share_grants(params, "111111111111", set()),
        policydoc.bucket_exposure(event, params, "111111111111", set()),
        policydoc.replication_targets(params, "111111111111", set()),
    ):
        assert isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)


def test_deep_nesting_is_bounded():
    uri = "http://acs.amazonaws.com/groups/global/AllUsers"
    deep: object = uri
    for _ in range(5000):
        deep = [deep]
    assert (
        policydoc.bucket_exposure(
            "PutBucketAcl", {"bucketName": "b", "AccessControlPolicy": deep}, "111111111111", set()
        )
        == []
    )
    near = {"bucketName": "b", "AccessControlPolicy": {"Grant": [{"Grantee": {"URI": uri}}]}}
    assert policydoc.bucket_exposure("PutBucketAcl", near, "111111111111", set()) == ["bucket b ACL grants AllUsers"]
