"""Policy validation findings in the manner of IAM Access Analyzer."""

from __future__ import annotations

import pytest
from policytest import doc, stmt

from iamkit.policy import validate
from iamkit.policy.validate import findings_frame


def codes(document, kind="identity"):
    return {(f.severity, f.code) for f in validate(document, kind)}


def test_clean_policy_has_no_findings():
    assert validate(doc(stmt(action="s3:GetObject", resource="arn:aws:s3:::b/*"))) == []


@pytest.mark.parametrize(
    "document, kind, expected",
    [
        ("{oops", "identity", ("error", "INVALID_JSON")),
        ({"Statement": []}, "identity", ("error", "MISSING_STATEMENT")),
        ({"Version": "2012-10-17"}, "identity", ("error", "MISSING_STATEMENT")),
        ({"Version": "2019-01-01", "Statement": [stmt()]}, "identity", ("error", "INVALID_VERSION")),
        ({"Statement": [stmt()]}, "identity", ("suggestion", "MISSING_VERSION")),
        (doc(stmt(action="s3:GetObjekt")), "identity", ("error", "UNKNOWN_ACTION")),
        (doc(stmt(action="nosuch:Thing")), "identity", ("error", "UNKNOWN_SERVICE")),
        (doc(stmt(action="s3GetObject")), "identity", ("error", "INVALID_ACTION")),
        (doc(stmt(action="s3:Nope*")), "identity", ("warning", "NO_MATCHING_ACTION")),
        (doc(stmt(resource="arn:aws:s3:bucket")), "identity", ("error", "INVALID_ARN")),
        (doc(stmt(resource="bucket/*")), "identity", ("error", "INVALID_ARN")),
        (
            doc(stmt(action="iam:PassRole", resource="arn:aws:iam::12345:role/x")),
            "identity",
            ("error", "INVALID_ARN_ACCOUNT"),
        ),
        (doc({"Effect": "Permit", "Action": "s3:*", "Resource": "*"}), "identity", ("error", "INVALID_EFFECT")),
        (doc({"Effect": "Allow", "Resource": "*"}), "identity", ("error", "MISSING_ACTION")),
        (doc({"Effect": "Allow", "Action": "s3:*"}), "identity", ("error", "MISSING_RESOURCE")),
        (doc(stmt(Principal="*")), "identity", ("error", "PRINCIPAL_NOT_ALLOWED")),
        (doc(stmt()), "resource", ("error", "MISSING_PRINCIPAL")),
        (doc(stmt(Sid="a"), stmt(Sid="a")), "identity", ("error", "DUPLICATE_SID")),
        (doc(stmt(Condition={"StringEqualz": {"aws:SourceIp": "x"}})), "identity", ("error", "UNKNOWN_OPERATOR")),
        (doc(stmt(Condition={"StringEquals": {"aws:NoSuchKey": "x"}})), "identity", ("error", "UNKNOWN_CONDITION_KEY")),
        (
            doc(stmt(Condition={"StringEquals": {"s3:prefix": "x"}})),
            "identity",
            ("warning", "CONDITION_KEY_NOT_SUPPORTED"),
        ),
        (doc(stmt(Condition={"NumericEquals": {"aws:SourceIp": "1"}})), "identity", ("error", "TYPE_MISMATCH")),
        (
            doc(stmt(Condition={"DateGreaterThan": {"aws:SecureTransport": "2020-01-01"}})),
            "identity",
            ("error", "TYPE_MISMATCH"),
        ),
        (
            doc(stmt(Condition={"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}})),
            "identity",
            ("error", "INVALID_CONDITION_VALUE"),
        ),
        (
            doc(stmt(Condition={"ArnLike": {"aws:SourceArn": "not-an-arn"}})),
            "identity",
            ("error", "INVALID_CONDITION_VALUE"),
        ),
        (
            doc(stmt(Condition={"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-1"}})),
            "identity",
            ("security_warning", "FORALLVALUES_WITH_SINGLE_VALUED_KEY"),
        ),
        (doc(stmt(Condition={"StringEquals": {"aws:TagKeys": "a"}})), "identity", ("warning", "MISSING_SET_OPERATOR")),
        (
            doc(stmt(Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}})),
            "identity",
            ("security_warning", "BOOLIFEXISTS_MFA_IN_ALLOW"),
        ),
        (doc(stmt(NotPrincipal={"AWS": "111122223333"})), "resource", ("security_warning", "ALLOW_WITH_NOT_PRINCIPAL")),
        (
            doc(stmt(resource=None, NotResource="arn:aws:s3:::b/*")),
            "identity",
            ("security_warning", "ALLOW_WITH_NOT_RESOURCE"),
        ),
        (doc(stmt(action=None, NotAction="iam:*")), "identity", ("security_warning", "ALLOW_WITH_NOT_ACTION")),
        (doc(stmt(Principal="*")), "resource", ("security_warning", "PUBLIC_PRINCIPAL")),
        (doc(stmt(Principal={"AWS": "arn:aws:iam::111122223333:role/*"})), "resource", ("error", "WILDCARD_PRINCIPAL")),
        (doc(stmt(Principal={"AWS": "bob"})), "resource", ("error", "INVALID_PRINCIPAL")),
        (doc(stmt(Principal="arn:aws:iam::111122223333:root")), "resource", ("error", "BARE_STRING_PRINCIPAL")),
        (doc(stmt(Principal="*", Effect="Allow")), "rcp", ("error", "RCP_ALLOW")),
        (doc(stmt("Deny", Principal={"AWS": "111122223333"})), "rcp", ("error", "RCP_PRINCIPAL")),
        (doc(stmt("Deny")), "rcp", ("error", "MISSING_PRINCIPAL")),
        (doc(stmt("Deny", action="*", Principal="*")), "rcp", ("error", "RCP_ACTION_STAR")),
        (doc(stmt("Deny", action=None, NotAction="s3:*", Principal="*")), "rcp", ("error", "RCP_UNSUPPORTED_ELEMENT")),
        # statements that can never match
        (doc(stmt(action="s3:ListAllMyBuckets", resource="arn:aws:s3:::b")), "identity", ("warning", "NEVER_MATCHES")),
        (doc(stmt(action="ec2:RunInstances", resource="arn:aws:s3:::b")), "identity", ("warning", "NEVER_MATCHES")),
        (doc(stmt(action=None, NotAction="*")), "identity", ("warning", "NEVER_MATCHES")),
        (doc(stmt("Deny", resource=None, NotResource="*")), "identity", ("warning", "NEVER_MATCHES")),
        (
            doc(stmt(Condition={"Null": {"aws:SourceVpce": "true"}, "StringEquals": {"aws:SourceVpce": "v"}})),
            "identity",
            ("warning", "NEVER_MATCHES"),
        ),
    ],
)
def test_findings(document, kind, expected):
    assert expected in codes(document, kind)


def test_no_false_alarms_on_common_good_policies():
    good = doc(
        stmt(action=["s3:GetObject", "s3:PutObject"], resource="arn:aws:s3:::b/${aws:username}/*"),
        stmt(action="s3:ListBucket", resource="arn:aws:s3:::b", Condition={"StringLike": {"s3:prefix": "home/*"}}),
        stmt("Deny", action="*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}),
        stmt(
            action="iam:PassRole",
            resource="arn:aws:iam::111122223333:role/app",
            Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        ),
        stmt(
            action="ec2:DescribeInstances",
            resource="*",
            Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}},
        ),
    )
    assert validate(good) == []


def test_findings_name_statement_sid_and_field():
    f = [x for x in validate(doc(stmt(Sid="Two"), stmt(Sid="Bad", action="s3:Nope"))) if x.code == "UNKNOWN_ACTION"]
    assert f[0].statement == 1 and f[0].sid == "Bad" and f[0].field == "Action"


def test_validate_accepts_parsed_policy_and_frame():
    from iamkit.policy import parse

    p = parse(doc(stmt(action="s3:GetObjekt")))
    fs = validate(p)
    df = findings_frame(fs)
    assert list(df.columns) == ["severity", "code", "message", "statement", "sid", "field"]
    assert "UNKNOWN_ACTION" in set(df["code"])


def test_a_good_rcp_is_clean():
    rcp = doc(stmt("Deny", action="s3:*", Principal="*", Condition={"BoolIfExists": {"aws:SecureTransport": "false"}}))
    assert validate(rcp, "rcp") == []


def test_unknown_kind_is_a_finding():
    assert ("error", "UNKNOWN_POLICY_KIND") in codes(doc(stmt()), "weird")


def test_common_trust_policies_are_clean():
    trust = doc(
        stmt(
            action="sts:AssumeRoleWithWebIdentity",
            resource=None,
            Principal={"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
            Condition={
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/*"},
            },
        ),
        stmt(
            action="sts:AssumeRole",
            resource=None,
            Principal={"AWS": "arn:aws:iam::444455556666:root"},
            Condition={"StringEquals": {"sts:ExternalId": "x"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}},
        ),
        stmt(
            action="sts:AssumeRoleWithSAML",
            resource=None,
            Principal={"Federated": "arn:aws:iam::111122223333:saml-provider/idp"},
            Condition={"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
        ),
        stmt(action=["sts:AssumeRole", "sts:TagSession"], resource=None, Principal={"Service": "ec2.amazonaws.com"}),
    )
    assert validate(trust, "trust") == []


def test_string_operator_on_a_typed_key_is_a_warning_typed_operator_an_error():
    assert ("warning", "TYPE_MISMATCH") in codes(doc(stmt(Condition={"StringEquals": {"aws:SecureTransport": "true"}})))
    assert ("error", "TYPE_MISMATCH") in codes(doc(stmt(Condition={"IpAddress": {"aws:username": "10.0.0.0/8"}})))


def test_not_principal_deny_must_list_account_and_role():
    sess = "arn:aws:sts::444455556666:assumed-role/audit/app"
    role = "arn:aws:iam::444455556666:role/audit"
    incomplete = doc(stmt("Deny", NotPrincipal={"AWS": [sess]}))
    complete = doc(stmt("Deny", NotPrincipal={"AWS": [sess, role, "444455556666"]}))
    found = [f for f in validate(incomplete, "resource") if f.code == "NOT_PRINCIPAL_INCOMPLETE"]
    assert found and "its account and its role" in found[0].message
    assert not [f for f in validate(complete, "resource") if f.code == "NOT_PRINCIPAL_INCOMPLETE"]


def test_package_exports_the_validate_function_not_the_module():
    import iamkit.policy as pkg

    assert callable(pkg.validate) and pkg.Finding.__name__ == "Finding"
    assert pkg.validate(doc(stmt())) == []
