"""One reader for JSON from hostile places: every failure a one-line BadInput naming the source."""

from __future__ import annotations

import pytest

from iamkit import jsontext
from iamkit.errors import BadInput, PolicyError


@pytest.mark.parametrize(
    "data, says",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"a": [1, 2', "truncated: not valid JSON"),
        (b'{"a": } , "b": 1}', "not valid JSON at line 1"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    ],
)
def test_bad_json_is_one_line_naming_the_source(data, says):
    with pytest.raises(BadInput) as e:
        jsontext.parse(data, "upload.json")
    msg = str(e.value)
    assert msg.startswith("upload.json: ") and says in msg and "\n" not in msg


def test_good_json_with_or_without_bom():
    assert jsontext.parse(b'\xef\xbb\xbf{"a": 1}', "x") == {"a": 1}
    assert jsontext.parse("\ufeff[1]", "x") == [1]


def test_error_type_is_the_callers():
    with pytest.raises(PolicyError):
        jsontext.parse("{", "policy", error=PolicyError)


def test_files(tmp_path):
    with pytest.raises(BadInput, match="is a folder"):
        jsontext.read(tmp_path)
    with pytest.raises(BadInput, match="no such file"):
        jsontext.read(tmp_path / "nope.json")
    (tmp_path / "a.json").write_bytes(b"\xef\xbb\xbf[1]")
    assert jsontext.read(tmp_path / "a.json") == [1]
    (tmp_path / "b.txt").write_bytes(b"\x80abc")
    with pytest.raises(BadInput, match="not UTF-8"):
        jsontext.read_text(tmp_path / "b.txt")
