"""`trail sql` and `Trail.sql` run someone's SQL read-only with DuckDB's external access off: the store is
all they see (plus --allow-path files); the Parquet cache never lands in a case folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ctrecords import incident_records, write_records_file

import iamkit.trail as trail
from iamkit.cli import main
from iamkit.errors import BadInput
from iamkit.trail import store

SECRET_FILE_TEXT = "root:x:0:0:not-for-sql:/root:/bin/bash"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture
def db(tmp_path):
    write_records_file(tmp_path / "in" / "a.json.gz", incident_records())
    path = tmp_path / "t.duckdb"
    trail.load([tmp_path / "in"], path)
    return path


@pytest.fixture
def private(tmp_path) -> Path:
    p = tmp_path / "private" / "passwd"
    p.parent.mkdir()
    p.write_text(SECRET_FILE_TEXT + "\n")
    return p


def _refusals(private: Path, target: Path) -> list[str]:
    return [
        f"SELECT * FROM read_text('{private}')",
        f"SELECT content FROM read_text('{private}')",
        f"SELECT * FROM read_csv('{private}', sep=':')",
        f"SELECT * FROM read_blob('{private}')",
        f"SELECT * FROM glob('{private.parent}/*')",
        f"COPY (SELECT * FROM events) TO '{target}'",
        f"COPY events TO '{target}' (FORMAT parquet)",
        f"EXPORT DATABASE '{target.parent / 'export'}'",
        f"ATTACH '{target.parent / 'other.duckdb'}' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "DROP TABLE events",
        "DELETE FROM events",
        "SELECT 1; SELECT 2",
    ]


def test_cli_refuses_every_way_out_with_one_line_and_exit_2(capsys, db, private, tmp_path):
    target = tmp_path / "out" / "dump.csv"
    target.parent.mkdir()
    for query in _refusals(private, target):
        code, out, err = run(capsys, "trail", "sql", query, "--db", str(db))
        assert code == 2, query
        assert "SQL refused" in err or "SQL failed" in err, (query, err)
        assert SECRET_FILE_TEXT not in out + err and "Traceback" not in err
        assert err.count("error:") == 1, err  # one message (the terminal may wrap it)
    assert list(target.parent.iterdir()) == []  # nothing written
    assert not (tmp_path / "other.duckdb").exists()
    code, out, _ = run(capsys, "trail", "sql", "SELECT count(*) AS n FROM events", "--db", str(db), "--format", "json")
    assert code == 0 and json.loads(out) == [{"n": len(incident_records())}]  # the store is intact


def test_cli_allow_path_opens_only_the_named_file(capsys, db, private, tmp_path):
    other = tmp_path / "private" / "shadow"
    other.write_text("nope\n")
    q = f"SELECT content FROM read_text('{private}')"
    code, out, _ = run(capsys, "trail", "sql", q, "--db", str(db), "--allow-path", str(private), "--format", "json")
    assert code == 0 and json.loads(out)[0]["content"].startswith(SECRET_FILE_TEXT)
    code, _, err = run(
        capsys, "trail", "sql", f"SELECT * FROM read_text('{other}')", "--db", str(db), "--allow-path", str(private)
    )
    assert code == 2 and "SQL refused" in err
    code, _, err = run(
        capsys, "trail", "sql", f"COPY (SELECT 1) TO '{private}'", "--db", str(db), "--allow-path", str(private)
    )
    assert code == 2 and private.read_text().startswith(SECRET_FILE_TEXT)  # readable is not writable
    code, _, err = run(capsys, "trail", "sql", "SELECT 1", "--db", str(db), "--allow-path", str(tmp_path / "nope"))
    assert code == 2 and "not found" in err


def test_the_lock_holds_without_the_statement_check(private, tmp_path, db):
    """Below the statement check, DuckDB itself refuses: external access off, configuration locked."""
    import duckdb

    con = store.locked_connection(readable=store.store_files(db), setup=lambda c: store.attach(c, db, True))
    target = tmp_path / "x.csv"
    for query in _refusals(private, target)[:-3]:
        with pytest.raises(duckdb.Error):
            con.execute(query).fetchall()
    assert con.execute("SELECT current_setting('enable_external_access')").fetchone() == (False,)
    assert not target.exists()
    con.close()


@pytest.mark.parametrize("how", ["read-write", "read-only", "memory", "parquet"])
def test_python_sql_is_locked_the_same_way(how, db, private, tmp_path):
    if how == "memory":
        t = trail.open()
        t.load([tmp_path / "in"])
    elif how == "parquet":
        with trail.open(db) as full:
            full.cache(tmp_path / "c" / "events.parquet")
        t = trail.open(tmp_path / "c" / "events.parquet")
    else:
        t = trail.open(db, read_only=how == "read-only")
    n = len(incident_records())
    with t:
        assert t.sql("SELECT count(*) AS n FROM events").n.iloc[0] == n
        assert (
            t.sql("SELECT count(*) AS n FROM events WHERE access_key_id = ?", ["AKIAOLDLEAKEDKEY0001"]).n.iloc[0] == 6
        )
        for query in (
            f"SELECT * FROM read_text('{private}')",
            f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
            "SET enable_external_access = true",
            f"ATTACH '{tmp_path / 'y.duckdb'}'",
        ):
            with pytest.raises(BadInput, match="SQL (refused|failed)") as e:
                t.sql(query)
            assert "\n" not in str(e.value)
        assert (
            t.sql(f"SELECT content FROM read_text('{private}')", allow_paths=[private])
            .content.iloc[0]
            .startswith("root:")
        )
        assert t.count() == n  # the library's own connection still works afterwards
        if how == "read-write":  # and can still write: temp tables survive, a load goes on
            t.con.execute("CREATE TEMP TABLE keep AS SELECT 1 AS x")
            t.sql("SELECT 1")
            assert t.con.execute("SELECT x FROM keep").fetchone() == (1,)
            write_records_file(tmp_path / "more" / "b.json.gz", [dict(incident_records()[0], eventID="new-1")])
            assert t.load([tmp_path / "more"]).events_inserted == 1
            assert t.sql("SELECT count(*) AS n FROM events").n.iloc[0] == n + 1
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.duckdb").exists()


def test_cache_never_writes_into_a_case_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    case = tmp_path / "cases" / "c-1"
    (case / "evidence").mkdir(parents=True)
    (case / "case.yaml").write_text("id: c-1\n")
    write_records_file(tmp_path / "in" / "a.json.gz", incident_records())
    db = case / "trail.duckdb"
    trail.load([tmp_path / "in"], db)
    before = sorted(p.relative_to(case).as_posix() for p in case.rglob("*"))
    code, out, _ = run(
        capsys, "trail", "sql", "SELECT count(*) AS n FROM events", "--db", str(db), "--cache", "--format", "json"
    )
    assert code == 0 and json.loads(out) == [{"n": len(incident_records())}]
    assert sorted(p.relative_to(case).as_posix() for p in case.rglob("*")) == before
    cached = list((tmp_path / "xdg" / "iamkit").rglob("*.parquet"))
    assert len(cached) == 1 and cached[0] == trail.default_cache_path(db)
    elsewhere = tmp_path / "loose" / "t.duckdb"  # not in a case: beside the store, as before
    elsewhere.parent.mkdir()
    trail.load([tmp_path / "in"], elsewhere)
    assert run(capsys, "trail", "sql", "SELECT 1 AS x", "--db", str(elsewhere), "--cache")[0] == 0
    assert elsewhere.with_suffix(".events.parquet").exists()
    assert trail.case_folder_of(case / "evidence" / "x.json") == case and trail.case_folder_of(elsewhere) is None
