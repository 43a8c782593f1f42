"""Case folder: manifest, seal, seal chain, keyed seal, the write gate, interrupted sessions, journal."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from iamkit.case import MANIFEST, MARKER, SEAL, SEALS, Case, redact, temp_path
from iamkit.cli import main
from iamkit.errors import BadInput, CaseIntegrityError, NotFound, RemediationError

KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv("IAMKIT_CASE_KEY", raising=False)
    monkeypatch.setenv("IAMKIT_CONFIG", "/nonexistent/iamkit-config.yaml")


def _make(tmp_path, case_id=None) -> Case:
    c = Case.create(
        tmp_path, "demo-playbook", {"access_key_id": "AKIAEXAMPLE", "client_secret": "s3cr3t"}, case_id=case_id
    )
    c.save_frame("events", pd.DataFrame({"a": [1, 2], "j": [{"x": 1}, None]}), query={"sql": "select 1"})
    c.save_json("summary", {"headline": ["x"]})
    c.save_raw("raw", [{"k": 1}, {"k": 2}])
    c.write_file("notebooks/01.ipynb", json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    c.finish()
    return c


@pytest.fixture
def case(tmp_path):
    return _make(tmp_path)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def _flip(p: Path, at: int | None = None) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x01
    p.write_bytes(bytes(data))


# ------------------------------------------------------------------------------------------ the plain seal
def test_complete_case_verifies_with_its_history(case):
    assert case.verify() == []
    assert not (case.path / MARKER).exists()
    assert Case.open(case.path).meta["status"] == "complete"
    hist = case.history()
    assert [h["actor"] for h in hist] == ["create (demo-playbook)", "finish (complete)"]
    assert hist[0]["prev"] is None and hist[1]["prev"] == hist[0]["manifest_sha256"]
    assert hist[-1]["manifest_sha256"] == hashlib.sha256((case.path / MANIFEST).read_bytes()).hexdigest()
    assert "evidence/summary.json" in hist[1]["added"] and not hist[1]["open"]


def test_secrets_are_redacted_in_case_yaml(case):
    text = (case.path / "case.yaml").read_text()
    assert "s3cr3t" not in text and "***" in text


def test_redact_aws_secret_shaped_values():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert redact({"note": f"key {secret}"})["note"] == "key ***"
    assert redact({"token": "abc"})["token"] == "***"
    assert redact({"access_key_id": "AKIAIOSFODNN7EXAMPLE"})["access_key_id"] == "AKIAIOSFODNN7EXAMPLE"


@pytest.mark.parametrize(
    "target",
    [
        "case.yaml",
        "evidence/events.parquet",
        "evidence/summary.json",
        "evidence/raw.jsonl.gz",
        "notebooks/01.ipynb",
        "manifest.json",
        "manifest.sha256",
        "evidence/events.query.json",
        "seals.jsonl",
    ],
)
def test_one_changed_byte_is_caught_and_named(case, target):
    _flip(case.path / target, at=10 if target == SEALS else None)
    problems = case.verify()
    assert problems, f"changing {target} went unnoticed"
    named = "manifest.json" if target == "manifest.sha256" else target
    assert any(named in line for line in problems), problems


def test_added_and_removed_files_are_caught(case):
    (case.path / "evidence" / "extra.json").write_text("{}")
    (case.path / "evidence" / "summary.json").unlink()
    problems = case.verify()
    assert any("extra.json: not in manifest" in p for p in problems)
    assert any("summary.json: missing" in p for p in problems)


@pytest.mark.parametrize(
    "rel",
    [
        "notebooks/.ipynb_checkpoints/01-checkpoint.ipynb",
        ".hidden/x.json",
        "evidence/.x",
        "evidence/sub/manifest.json",
        "evidence/manifest.sha256",
    ],
)
def test_hidden_files_and_lookalike_names_are_not_skipped(case, rel):
    p = case.path / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("planted")
    assert f"{rel}: not in manifest" in case.verify()


def test_a_symlink_is_refused_never_followed(case, tmp_path):
    outside = tmp_path / "outside.json"
    target = case.path / "evidence" / "summary.json"
    outside.write_bytes(target.read_bytes())  # identical content: hashing through the link would pass
    target.unlink()
    target.symlink_to(outside)
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "f.txt").write_text("x")
    (case.path / "linkdir").symlink_to(tmp_path / "outdir")
    problems = case.verify()
    assert "evidence/summary.json: symlink, not allowed in a case" in problems
    assert "linkdir: symlink, not allowed in a case" in problems
    assert not any("f.txt" in p for p in problems), "a symlinked folder was followed"
    with pytest.raises(CaseIntegrityError, match="symlink"):
        Case.open_for_write(case.path, actor="test")


def test_crafted_file_names_cannot_fake_lines(case):
    (case.path / "evidence" / "x\nOK all good").write_text("x")
    problems = case.verify()
    assert any(p.startswith("evidence/x\\nOK all good: not in manifest") for p in problems), problems
    assert all("\n" not in p for p in problems)


def test_failed_case_is_marked(tmp_path):
    c = Case.create(tmp_path, "pb", {})
    c.finish("failed", error="boom")
    assert (c.path / MARKER).exists()
    assert Case.open(c.path).meta["status"] == "failed"
    assert any("did not finish" in p for p in c.verify())
    assert Case.open(c.path).check().problems == []  # unfinished, not tampered: a writer may still add to it


def test_bad_names_and_missing_things(tmp_path, case):
    with pytest.raises(NotFound):
        Case.open(tmp_path / "nope")
    with pytest.raises(BadInput):
        Case.create(case.path.parent, "pb", {}, case_id=case.id)
    with Case.open_for_write(case.path, actor="test") as c:
        with pytest.raises(BadInput):
            c.save_json("../escape", {})
        with pytest.raises(BadInput):
            c.write_file("../escape.txt", "x")
        with pytest.raises(NotFound):
            c.load_json("absent")


def test_a_case_opened_to_read_cannot_be_written(case):
    with pytest.raises(CaseIntegrityError, match="not open for writing"):
        Case.open(case.path).save_json("x", {})
    with pytest.raises(CaseIntegrityError, match="not open for writing"):
        case.journal({"event": "x"})  # finished: its session is closed


def test_case_yaml_with_aliases_is_refused(case):
    (case.path / "case.yaml").write_text("a: &x [1, 2]\nb: *x\n")
    with pytest.raises(CaseIntegrityError, match="case.yaml: not valid YAML"):
        Case.open(case.path)


def test_evidence_roundtrip(case):
    df = case.load_frame("events")
    assert list(df["a"]) == [1, 2]
    assert case.load_json("summary") == {"headline": ["x"]}


def test_a_failed_write_leaves_no_half_file(tmp_path, monkeypatch):
    c = Case.create(tmp_path, "pb", {})

    def broken(self, path, **kw):
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        c.save_frame("events", pd.DataFrame({"a": [1]}))
    assert not (c.evidence / "events.parquet").exists()
    assert list(c.evidence.iterdir()) == []
    c.finish()
    assert c.verify() == []


# ------------------------------------------------------------------------------------------- the write gate
def test_report_refuses_a_case_changed_outside_iamkit(case, capsys):
    summary = case.path / "evidence" / "summary.json"
    summary.write_text(json.dumps({"headline": ["nothing happened here"]}))
    code, out, err = cli(capsys, "case", "report", str(case.path))
    assert code == 1
    assert "evidence/summary.json: changed" in err and len(err.strip().splitlines()) == 1
    assert not (case.path / "report.html").exists()
    assert "evidence/summary.json: changed (sha256 differs from manifest)" in Case.open(case.path).verify(), (
        "the edit was sealed over"
    )


def test_report_rebuild_seals_and_records_what_changed(case, capsys):
    code, out, _ = cli(capsys, "case", "report", str(case.path))
    assert code == 0 and out.strip().endswith("report.html")
    assert case.verify() == []
    last = case.history()[-1]
    assert last["actor"] == "case report" and last["added"] == ["report.html"] and not last["open"]
    code, out, _ = cli(capsys, "case", "verify", str(case.path))
    assert code == 0
    assert "case report" in out and "added report.html" in out and "create (demo-playbook)" in out


def test_rewritten_history_is_caught(case):
    lines = (case.path / SEALS).read_text().splitlines(keepends=True)
    first = json.loads(lines[0])
    first["actor"] = "someone else"
    (case.path / SEALS).write_text(json.dumps(first, sort_keys=True) + "\n" + "".join(lines[1:]))
    assert any("seals.jsonl: changed (earlier seals were rewritten)" in p for p in case.verify())


def test_a_dropped_last_seal_is_caught(case):
    lines = (case.path / SEALS).read_text().splitlines(keepends=True)
    (case.path / SEALS).write_text("".join(lines[:-1]))
    assert any("the last seal does not match" in p for p in case.verify())


def _forge(case_path: Path, rel: str, data: bytes) -> None:
    """What someone who can recompute hashes does: change a file, rewrite manifest, its hash and the last seal."""
    (case_path / rel).write_bytes(data)
    doc = json.loads((case_path / MANIFEST).read_text())
    for e in doc["files"]:
        if e["path"] == rel:
            e["sha256"], e["size"] = hashlib.sha256(data).hexdigest(), len(data)
    raw = json.dumps(doc, indent=1).encode()
    (case_path / MANIFEST).write_bytes(raw)
    digest = hashlib.sha256(raw).hexdigest()
    (case_path / SEAL).write_text(f"{digest}  {MANIFEST}\n")
    lines = (case_path / SEALS).read_text().splitlines(keepends=True)
    (case_path / SEALS).write_text("".join(lines[:-1]) + json.dumps({**doc["seal"], "manifest_sha256": digest}) + "\n")


def test_the_plain_seal_does_not_stand_against_a_recompute(case):
    """What the README says: without a key, someone who recomputes every hash is not caught."""
    _forge(case.path, "evidence/summary.json", b'{"headline": ["forged"]}')
    assert case.verify() == []


def test_the_keyed_seal_catches_a_recompute(tmp_path, monkeypatch):
    monkeypatch.setenv("IAMKIT_CASE_KEY", KEY_HEX)
    c = _make(tmp_path)
    assert (c.path / "manifest.hmac").is_file()
    v = c.check()
    assert v.ok and "keyed seal checked" in v.notes
    for p in c.path.rglob("*"):  # the key is nowhere in the case
        if p.is_file():
            data = p.read_bytes()
            assert KEY_HEX.encode() not in data and bytes.fromhex(KEY_HEX) not in data, p
    _forge(c.path, "evidence/summary.json", b'{"headline": ["forged"]}')
    assert any("manifest.hmac: does not match" in p for p in c.verify())
    monkeypatch.delenv("IAMKIT_CASE_KEY")
    v = c.check()
    assert "keyed seal present, not checked (no key)" in v.notes
    with pytest.raises(CaseIntegrityError, match="keyed seal"):
        Case.open_for_write(c.path, actor="test")  # writing would drop the keyed seal


def test_keyed_seal_with_a_key_file_and_the_wrong_key(tmp_path, monkeypatch, capsys):
    keyfile = tmp_path / "case.key"
    keyfile.write_text(KEY_HEX + "\n")
    monkeypatch.setenv("IAMKIT_CASE_KEY", f"@{keyfile}")
    c = _make(tmp_path / "cases")
    monkeypatch.delenv("IAMKIT_CASE_KEY")
    code, out, _ = cli(capsys, "case", "verify", str(c.path), "--key-file", str(keyfile))
    assert code == 0 and "keyed seal checked" in out
    wrong = tmp_path / "wrong.key"
    wrong.write_text("ff" * 32)
    code, out, _ = cli(capsys, "case", "verify", str(c.path), "--key-file", str(wrong))
    assert code == 1 and "manifest.hmac: does not match" in out
    code, _, err = cli(capsys, "case", "report", str(c.path), "--key-file", str(keyfile))
    assert code == 0, err
    assert Case.open(c.path).verify(keyfile) == []
    code, _, err = cli(capsys, "case", "verify", str(c.path), "--key-file", str(c.path / "case.yaml"))
    assert code == 2 and "must not be inside the case folder" in err


def test_a_key_on_a_case_sealed_without_one_is_a_problem(case, monkeypatch):
    monkeypatch.setenv("IAMKIT_CASE_KEY", KEY_HEX)
    assert any("manifest.hmac: missing" in p for p in case.verify())
    monkeypatch.setenv("IAMKIT_CASE_KEY", "not a key")
    with pytest.raises(BadInput, match="IAMKIT_CASE_KEY: not a key") as e:
        case.verify()
    assert "not a key (hex" in str(e.value)


def test_a_case_sealed_by_an_older_iamkit_verifies_and_starts_its_chain(case):
    (case.path / SEALS).unlink()  # the old layout: manifest.json + manifest.sha256, no history
    entries = [
        {
            "path": p.relative_to(case.path).as_posix(),
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "size": p.stat().st_size,
        }
        for p in case.files()
    ]
    raw = json.dumps({"case_id": case.id, "algorithm": "sha256", "written": "x", "files": entries}).encode()
    (case.path / MANIFEST).write_bytes(raw)
    (case.path / SEAL).write_text(f"{hashlib.sha256(raw).hexdigest()}  {MANIFEST}\n")
    v = Case.open(case.path).check()
    assert v.ok and "no seal history (sealed by an older iamkit)" in v.notes
    with Case.open_for_write(case.path, actor="test") as c:
        c.save_json("more", {})
    hist = case.history()
    assert hist[0]["prev"] == hashlib.sha256(raw).hexdigest()
    assert hist[-1]["added"] == ["evidence/more.json"]
    assert case.verify() == []


# --------------------------------------------------------------------------------------- sessions and runs
def _child(code: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_a_killed_run_reads_interrupted_and_the_next_writer_settles_it(tmp_path, capsys):
    p = _child(
        """
        import os, signal, sys
        from iamkit.case import Case, temp_path
        c = Case.create(sys.argv[1], "pb", {}, case_id="c")
        c.seal(actor="run step 1/2: one.ipynb")
        c.save_json("half-done", {"x": 1})
        temp_path(c.evidence / "big.json").write_text("partial")
        print("ready", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """,
        str(tmp_path),
    )
    assert p.stdout.readline().strip() == "ready"
    p.wait()
    path = tmp_path / "c"
    assert Case.open(path).status == "interrupted"
    v = Case.open(path).check()
    assert any(s.startswith("interrupted:") for s in v.status)
    assert any("temporary file left by an unfinished write" in x for x in v.problems)
    code, _, err = cli(capsys, "case", "report", str(path))
    assert code == 0, err
    assert not [q for q in path.rglob("*") if "iamkit-tmp" in q.name], "temporary files not cleaned"
    assert Case.open(path).meta["status"] == "interrupted"  # persisted by the writer
    hist = Case.open(path).history()
    settle = [i for i, h in enumerate(hist) if h["actor"].startswith("settle after interrupted")]
    assert len(settle) == 1
    left, marked = hist[settle[0]], hist[settle[0] + 1]
    assert (left["added"], left["changed"], left["removed"]) == (["evidence/half-done.json"], [], [])
    assert "never verified" in left["note"] and "pid" in left["note"]
    assert marked["actor"] == "mark interrupted" and marked["changed"] == ["INCOMPLETE", "case.yaml"]
    v = Case.open(path).check()
    assert v.problems == [] and "INCOMPLETE: case did not finish" in v.status


def test_a_case_being_written_by_another_process_is_refused(tmp_path):
    p = _child(
        """
        import sys
        from iamkit.case import Case
        c = Case.create(sys.argv[1], "pb", {}, case_id="c")
        print("ready", flush=True)
        sys.stdin.readline()
        c.finish()
    """,
        str(tmp_path),
    )
    try:
        assert p.stdout.readline().strip() == "ready"
        path = tmp_path / "c"
        assert Case.open(path).status == "running"
        assert any(s.startswith("being written by create (pb)") for s in Case.open(path).verify())
        with pytest.raises(CaseIntegrityError, match="being written by create"):
            Case.open_for_write(path, actor="test")
    finally:
        p.communicate("go\n")
    assert p.returncode == 0
    with Case.open_for_write(tmp_path / "c", actor="test") as c:
        c.save_json("after", {})
    assert Case.open(tmp_path / "c").verify() == []


def test_a_child_of_the_writing_process_joins_its_session(tmp_path):
    c = Case.create(tmp_path, "pb", {}, case_id="c")
    temp_path(c.path / "notebooks" / "01.ipynb", ".ipynb").write_text("{}")  # the step's notebook, in flight
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
        import sys
        from iamkit.case import Case
        with Case.open_for_write(sys.argv[1], actor="notebook") as c:
            c.save_json("from-kernel", {"ok": True})
    """),
            str(c.path),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    for q in c.path.rglob("*iamkit-tmp*"):
        q.unlink()
    c.finish()
    assert c.verify() == []
    assert c.history()[-1]["added"] == ["evidence/from-kernel.json"]


def test_creation_is_atomic(tmp_path, monkeypatch):
    """Two runs into one (empty) folder: the one that checks first must not also win after the other created."""
    target = tmp_path / "c"
    target.mkdir()
    real_iterdir = Path.iterdir
    results = []

    def racing_iterdir(self):
        listing = list(real_iterdir(self))  # what the check sees...
        if self == target and not results:
            results.append("other")
            results.append(Case.create(target, "pb", {}, case_id="c"))  # ...then the other run creates it
        return iter(listing)

    monkeypatch.setattr(Path, "iterdir", racing_iterdir)
    with pytest.raises(BadInput, match="another run|not empty"):
        Case.create(target, "pb", {}, case_id="c")
    monkeypatch.undo()
    winner = results[1]
    winner.finish()
    assert winner.verify() == []


# ------------------------------------------------------------------------------------------------ journal
def test_journal_appends_in_order(tmp_path):
    c = Case.create(tmp_path, "pb", {})
    c.journal({"event": "before", "step": 0})
    c.journal({"event": "after", "step": 0})
    assert [e["event"] for e in c.journal_entries()] == ["before", "after"]


def test_a_torn_last_line_is_reported_and_the_rest_kept(tmp_path):
    c = Case.create(tmp_path, "pb", {})
    c.journal({"event": "before", "step": 0})
    with (c.path / "journal.jsonl").open("a") as f:
        f.write('{"event": "after", "st')
    entries, warnings = c.read_journal()
    assert [e["event"] for e in entries] == ["before"]
    assert warnings and "journal.jsonl line 2" in warnings[0] and "torn" in warnings[0]
    c.journal({"event": "undone", "step": 0})  # closes the torn line first, never glued onto it
    entries, warnings = c.read_journal()
    assert [e["event"] for e in entries] == ["before", "torn-line", "undone"]
    assert warnings == ["journal.jsonl line 2: cut off by an interrupted write; ignored"]


def test_an_edited_journal_line_is_an_error(tmp_path):
    c = Case.create(tmp_path, "pb", {})
    c.journal({"event": "before", "step": 0})
    c.journal({"event": "after", "step": 0})
    lines = (c.path / "journal.jsonl").read_text().splitlines(keepends=True)
    (c.path / "journal.jsonl").write_text("{broken\n" + lines[1])
    with pytest.raises(RemediationError, match="line 1"):
        c.read_journal()


def test_killed_mid_append_leaves_a_torn_tail_that_undo_reading_survives(tmp_path):
    """A real kill between two writes of one journal line."""
    p = _child(
        """
        import json, os, signal, sys
        from iamkit.case import Case
        c = Case.create(sys.argv[1], "pb", {}, case_id="c")
        c.journal({"event": "approved", "run": "r1"})
        fd = os.open(os.path.join(sys.argv[1], "c", "journal.jsonl"), os.O_WRONLY | os.O_APPEND)
        os.write(fd, b'{"event": "before", "run": "r1", "st')
        os.kill(os.getpid(), signal.SIGKILL)
    """,
        str(tmp_path),
    )
    p.wait()
    assert p.returncode == -signal.SIGKILL
    with Case.open_for_write(tmp_path / "c", actor="test") as c:
        entries, warnings = c.read_journal()
        assert [e["event"] for e in entries] == ["approved"] and "line 2" in warnings[0]
    assert os.path.exists(tmp_path / "c" / "journal.jsonl")
    assert Case.open(tmp_path / "c").check().problems == []


def test_a_notebook_reopening_a_changed_case_is_refused(case):
    from iamkit.investigate.access_key import open_case

    (case.path / "evidence" / "summary.json").write_text("{}")
    with pytest.raises(CaseIntegrityError, match="evidence/summary.json: changed"):
        open_case(str(case.path))
    (case.path / "evidence" / "summary.json").unlink()
    meta = case.path / "case.yaml"
    meta.write_text(meta.read_text().replace("status: complete", "status: reviewed"))
    with pytest.raises(CaseIntegrityError, match="case.yaml: changed"):
        open_case(str(case.path))
