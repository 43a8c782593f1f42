"""``iamkit.aws.connect``: env credentials, profiles, profile role chains, explicit role chains, errors."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.aws import connect
from iamkit.aws.faults import Fault, FaultInjector
from iamkit.errors import AccessDenied, BadInput


def test_env_credentials_and_endpoint_url(mini_org, aws_env):
    aws_env(mini_org)
    ctx = connect()
    assert ctx.account_id == mini_org.management and ctx.arn.endswith("user/operator")
    assert ctx.region == "us-east-1"


def test_explicit_role_chain(mini_org, aws_env):
    aws_env(mini_org)
    a, b = mini_org.members
    chain = f"arn:aws:iam::{a}:role/OrganizationAccountAccessRole, arn:aws:iam::{b}:role/OrganizationAccountAccessRole"
    ctx = connect(role_arn=chain, session_name="case 42/x")
    assert ctx.account_id == b
    assert ctx.arn == f"arn:aws:sts::{b}:assumed-role/OrganizationAccountAccessRole/case-42-x"
    assert ctx.whoami().account_id == b  # the credentials really are the second hop's


def test_profiles_and_profile_role_chain(mini_org, aws_env, monkeypatch, tmp_path):
    aws_env(mini_org)
    member = mini_org.members[0]
    creds = tmp_path / "credentials"
    creds.write_text(f"[ops]\naws_access_key_id = {mini_org.access_key_id}\naws_secret_access_key = x\n")
    cfg = tmp_path / "config"
    cfg.write_text(
        "[profile ops]\nregion = eu-west-1\n\n"
        f"[profile member]\nrole_arn = arn:aws:iam::{member}:role/OrganizationAccountAccessRole\n"
        "source_profile = ops\nregion = us-east-1\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    ops = connect(profile="ops")
    assert ops.account_id == mini_org.management and ops.region == "eu-west-1"
    chained = connect(profile="member")
    assert chained.account_id == member and "assumed-role/OrganizationAccountAccessRole" in chained.arn


def test_unknown_profile_is_bad_input(mini_org, aws_env):
    aws_env(mini_org)
    with pytest.raises(BadInput, match="cannot open AWS profile 'nope'"):
        connect(profile="nope")


def test_no_credentials_is_bad_input(monkeypatch, tmp_path):
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(BadInput, match="no AWS credentials found"):
        connect(region="us-east-1")


def test_unreachable_endpoint_is_clear(mini_org, aws_env, monkeypatch):
    aws_env(mini_org)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(BadInput, match="unreachable"):
        connect(max_attempts=0)


def test_denied_role_in_chain(mini_org, aws_env):
    aws_env(mini_org)
    inj = FaultInjector([Fault("denied", "sts:AssumeRole")])
    with pytest.raises(AccessDenied, match="cannot assume arn:aws:iam::.*AccessDenied"):
        connect(role_arn=f"arn:aws:iam::{mini_org.members[0]}:role/X", hooks=[inj])


def test_not_a_role_arn(mini_org, aws_env):
    aws_env(mini_org)
    with pytest.raises(BadInput, match="not a role ARN"):
        connect(role_arn="my-role")


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05.123Z",
        "2024-01-02T03:04:05+01:00",
        "2024-01-02 03:04:05.5Z",
        "2024-01-02T03:04:05",
        "1700000000",
        "1700000000.25",
        "Tue, 02 Jan 2024 03:04:05 GMT",
        "2024-01-02",
    ],
)
def test_fast_timestamp_parser_gives_what_botocore_gives(text):
    from botocore.utils import parse_timestamp

    from iamkit.aws.session import fast_timestamp

    ours, theirs = fast_timestamp(text), parse_timestamp(text)
    assert ours == theirs and ours.utcoffset() == theirs.utcoffset()


def test_fast_timestamp_parser_keeps_botocore_errors():
    from iamkit.aws.session import fast_timestamp

    with pytest.raises(ValueError):
        fast_timestamp("2024-13-45T99:00:00Z")


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)),
    st.sampled_from(["Z", "+00:00"]),
    st.booleans(),
)
def test_fast_timestamp_parser_property(when, suffix, micro):
    from botocore.utils import parse_timestamp

    from iamkit.aws.session import fast_timestamp

    text = when.strftime("%Y-%m-%dT%H:%M:%S" + (".%f" if micro else "")) + suffix
    assert fast_timestamp(text) == parse_timestamp(text)


def test_clients_share_their_class_and_model_but_never_credentials(mini_org, aws_env):
    """Client classes and service models are built once per session; each client keeps its own keys."""
    import boto3

    aws_env(mini_org)
    root = connect()
    a, b = (root.assume(f"arn:aws:iam::{m}:role/OrganizationAccountAccessRole") for m in mini_org.members[:2])
    ia, ib = a.client("iam"), b.client("iam")
    assert type(ia) is type(ib) and ia.meta.service_model is ib.meta.service_model
    assert ia.meta.events is not ib.meta.events  # hooks stay per client
    assert a.client("sts").get_caller_identity()["Account"] == mini_org.members[0]
    assert b.client("sts").get_caller_identity()["Account"] == mini_org.members[1]
    plain = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    assert type(plain) is not type(ia)  # sessions not made by iamkit are left alone
