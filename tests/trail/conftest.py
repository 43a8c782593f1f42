"""Shared fixtures for the CloudTrail store tests (record builders live in ctrecords.py beside this file)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ctrecords import incident_records  # noqa: E402


@pytest.fixture
def incident() -> list[dict]:
    return incident_records()


@pytest.fixture
def store_con():
    import duckdb

    from iamkit.trail import store

    con = duckdb.connect()
    store.create_schema(con)
    yield con
    con.close()


@pytest.fixture(scope="session")
def moto_server():
    """moto's server on 127.0.0.1, an ephemeral port (our own: no dependency on the sandbox package)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_server, monkeypatch):
    import boto3

    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_server,
    }.items():
        monkeypatch.setenv(k, v)
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    # A clean slate for this account only. Never /moto-api/reset: moto's state is global to the process, so
    # a reset here also wiped the shared sandbox other tests in this worker were using (its trail vanished).
    for bucket in client.list_buckets().get("Buckets", []):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket["Name"], Key=obj["Key"])
        client.delete_bucket(Bucket=bucket["Name"])
    return client
