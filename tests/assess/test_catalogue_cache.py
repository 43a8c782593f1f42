"""The escalation catalogue's disk cache: used when the files are unchanged, rebuilt when one changes, ignored
when corrupt or turned off."""

from __future__ import annotations

import shutil

import pytest

from iamkit.assess.privesc import catalog as mod
from iamkit.errors import BadInput


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A copy of the packaged catalogue and an empty cache folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("IAMKIT_CATALOG_CACHE", raising=False)
    dst = tmp_path / "catalog"
    shutil.copytree(mod.HERE / "catalog", dst)
    mod.load.cache_clear()
    yield dst
    mod.load.cache_clear()


def _cache_files(tmp_path):
    return sorted((tmp_path / "cache" / "iamkit").glob("privesc-*.marshal"))


def _no_yaml(monkeypatch):
    import yaml

    def boom(*_a, **_k):
        raise AssertionError("the YAML was parsed although the cache is valid")

    monkeypatch.setattr(yaml, "safe_load", boom)


def test_second_load_reads_the_cache_not_the_yaml(folder, tmp_path, monkeypatch):
    first = mod.load(str(folder))
    assert len(_cache_files(tmp_path)) == 1
    assert not list((tmp_path / "cache" / "iamkit").glob(".*tmp"))  # written atomically
    mod.load.cache_clear()
    _no_yaml(monkeypatch)
    assert mod.load(str(folder)) == first == mod.load.__wrapped__()  # the packaged catalogue, same methods


def test_editing_a_file_rebuilds_the_cache(folder, tmp_path):
    before = mod.load(str(folder))
    path = folder / "self.yml"
    path.write_text(path.read_text().replace("title: Inline policy on its own user", "title: Edited title"))
    mod.load.cache_clear()
    after = {m.id: m for m in mod.load(str(folder))}
    assert after["iam-put-user-policy"].title == "Edited title"
    assert {m.id for m in before} == set(after)
    assert len(_cache_files(tmp_path)) == 2  # one per content


def test_an_invalid_edit_is_reported_even_with_a_cache(folder):
    mod.load(str(folder))
    (folder / "self.yml").write_text("- {id: bad, kind: self}\n")
    mod.load.cache_clear()
    with pytest.raises(BadInput, match="self.yml entry 0"):
        mod.load(str(folder))


@pytest.mark.parametrize("content", [b"", b"\x00garbage", b"x" * 64])
def test_a_corrupt_cache_is_ignored_and_rewritten(folder, tmp_path, content):
    first = mod.load(str(folder))
    (path,) = _cache_files(tmp_path)
    path.write_bytes(content)
    mod.load.cache_clear()
    assert mod.load(str(folder)) == first
    assert path.read_bytes() != content


def test_a_cache_whose_entries_break_the_schema_is_ignored(folder, tmp_path, monkeypatch):
    """An intact file (right checksum) holding an entry the schema rejects is not trusted."""
    from iamkit.policy.catalog import write_cached

    first = mod.load(str(folder))
    (path,) = _cache_files(tmp_path)
    write_cached(path, {"format": mod._CACHE_FORMAT, "entries": [{"id": "x", "kind": "nonsense"}]})
    mod.load.cache_clear()
    assert mod.load(str(folder)) == first


def test_cache_can_be_turned_off(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("IAMKIT_CATALOG_CACHE", "0")
    assert len(mod.load(str(folder))) >= 50
    assert not _cache_files(tmp_path)
