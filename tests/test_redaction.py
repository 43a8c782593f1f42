"""Raw CloudTrail copies in a case keep no session tokens (their original hash is recorded instead)."""

from __future__ import annotations

import gzip
import hashlib
import json

from iamkit.investigate.access_key import redact_raw_files


def test_session_tokens_are_redacted_and_provenance_kept(tmp_path):
    rec = {"Records": [{"eventName": "AssumeRole", "responseElements": {"credentials": {
        "accessKeyId": "ASIAEXAMPLE", "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN//+=", "expiration": "x"}}}]}
    raw = gzip.compress(json.dumps(rec).encode())
    (tmp_path / "a.json.gz").write_bytes(raw)
    (tmp_path / "b.json").write_text(json.dumps({"Records": [{"eventName": "GetObject"}]}))
    (tmp_path / "c.json.gz").write_bytes(raw[:20])  # truncated: left as received
    out = redact_raw_files(tmp_path)
    assert [o["file"] for o in out] == ["a.json.gz"]
    assert out[0]["original_sha256"] == hashlib.sha256(raw).hexdigest()
    text = gzip.decompress((tmp_path / "a.json.gz").read_bytes()).decode()
    assert "EXAMPLETOKEN" not in text and json.loads(text)["Records"][0]["responseElements"]["credentials"][
        "accessKeyId"] == "ASIAEXAMPLE"
    assert (tmp_path / "c.json.gz").read_bytes() == raw[:20]
    assert redact_raw_files(tmp_path) == []  # idempotent
