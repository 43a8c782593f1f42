"""Every command of the CLI tree, given bad input, prints one line naming the problem and exits 0, 1 or 2.

The tree is discovered from the typer app, so a new command or option is walked without editing this file.
Each command gets: no arguments, an unknown option, and for each of its parameters in turn a table of hostile
values (missing path, a folder where a file is expected, empty / non-UTF-8 / deeply nested / non-JSON files,
corrupt DuckDB and Parquet files, broken case folders, odd strings and numbers). The run is in-process
(the ``cli`` fixture) with every endpoint pointed at a closed loopback port (``closed_endpoints``); any
exception other than ``SystemExit(0|1|2)``, a traceback or ``internal error`` on stderr, or a run over 30 s
fails the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Commands where "no arguments" is a valid long-running action (serve, seed, investigate), or that need a
# running sandbox to do anything: walked with bad values only.
# The two `data refresh-*` commands go online when run bare (their whole point): walked with --help and bad options.
NO_BARE_RUN = {("sandbox", "start"), ("demo",), ("data", "refresh-ip-ranges"), ("data", "refresh-tor-exits")}
# Parameters that name files or folders (by name: typer keeps no path type we can rely on).
PATHS = {
    "case_dir",
    "db",
    "snapshot",
    "request_file",
    "policy_file",
    "files",
    "sources",
    "old",
    "new",
    "out",
    "trail_dir",
    "workdir",
    "authz_details",
    "rules",
    "sigma",
    "country_mmdb",
    "asn_mmdb",
    "evidence",
    "case",
    "playbooks",
    "key_file",
    "allow_path",
    "from_finding",
    "from_findings",
    "cache_dir",
}
TEXT = ["", "\x00", "x" * 5000, "'; DROP TABLE events; --", "[bold red]x[/]", "../../etc/passwd", "-"]
NUMBERS = ["-1", "abc", "1e309", "99999999999999999999"]


def _tree():
    import typer

    from iamkit.cli import app

    out = []

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in sorted(cmd.commands.items()):
                walk(sub, (*path, name))
        else:
            out.append((path, cmd))

    walk(typer.main.get_command(app), ())
    return out


TREE = _tree()
IDS = [" ".join(p) for p, _ in TREE]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """Files and folders a careless or malicious user might hand any command."""
    d = tmp_path_factory.mktemp("hostile")
    f: dict[str, Path] = {}

    def put(name: str, data: bytes) -> Path:
        p = d / name
        p.write_bytes(data)
        f[name] = p
        return p

    f["folder"] = d / "a-folder"
    f["folder"].mkdir()
    put("empty.json", b"")
    put("non-utf8.json", b'\xff\xfe\xfa{"Records": [\xff]}')
    put("deep.json", b"[" * 200_000 + b"]" * 200_000)
    put("deep-object.json", b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    put("not-json.json", b"this is not json\n")
    put("scalar.json", b"42")
    put("corrupt.duckdb", b"DUCK" + os.urandom(4096))
    put("corrupt.parquet", b"PAR1" + os.urandom(1024) + b"PAR1")
    put("truncated.json.gz", b"\x1f\x8b\x08\x00" + os.urandom(64))
    put("broken.yml", b"key: [unclosed\n  - : :\n")
    case = d / "broken-case"
    (case / "evidence").mkdir(parents=True)
    (case / "case.yaml").write_bytes(b"id: [oops\n")
    (case / "manifest.json").write_bytes(b"{not json")
    (case / "journal.jsonl").write_bytes(b'{"event": "approved", "plan_hash": "x"}\n{"torn')
    f["broken-case"] = case
    case2 = d / "odd-case"
    (case2 / "evidence").mkdir(parents=True)
    (case2 / "notebooks").mkdir()
    (case2 / "case.yaml").write_text("- a list, not a mapping\n")
    (case2 / "evidence" / "summary.json").write_text("[1, 2")
    (case2 / "evidence" / "plan.json").write_text('{"actions": "not a list"}')
    (case2 / "notebooks" / "01.ipynb").write_text("{}")
    f["odd-case"] = case2
    snap = d / "bad-snapshot"
    snap.mkdir()
    (snap / "manifest.json").write_text('{"files": 7}')
    (snap / "principals.parquet").write_bytes(b"PAR1garbage")
    f["bad-snapshot"] = snap
    return f


_SEQ = iter(range(10**9))


def _missing(hostile: dict[str, Path]) -> str:
    """A path that does not exist yet (fresh each time: a command may create what it was given)."""
    return str(hostile["folder"].parent / f"missing-{next(_SEQ)}" / "does-not-exist.json")


def _values_for(name: str, hostile: dict[str, Path]) -> list[str]:
    if name in PATHS:
        return [_missing(hostile)] + [str(p) for p in hostile.values()] + ["", "/proc/self/mem", "/dev/null"]
    if name in {"accounts", "roles_per_account", "events", "days", "seed", "max_workers"}:
        return NUMBERS + TEXT[:2]
    return TEXT


def _fill(cmd, hostile) -> list[str]:
    """Argv giving every required parameter a value that is wrong but well-formed (a missing file, a word)."""
    argv: list[str] = []
    for p in cmd.params:
        if not p.required:
            continue
        value = _missing(hostile) if p.name in PATHS else "AKIAWALKWALKWALKWALK"
        if p.param_type_name == "argument":
            argv.append(value)
        else:
            argv += [p.opts[0], value]
    return argv


def _with(cmd, hostile, name: str, value: str) -> list[str]:
    argv: list[str] = []
    for p in cmd.params:
        v = value if p.name == name else (_missing(hostile) if p.name in PATHS else "AKIAWALKWALKWALKWALK")
        if p.param_type_name == "argument":
            if p.required or p.name == name:
                argv.append(v)
        elif p.name == name or p.required:
            if getattr(p, "is_flag", False):
                continue
            argv += [p.opts[0], v]
    return argv


def test_the_walk_sees_the_whole_tree():
    names = {" ".join(p) for p, _ in TREE}
    assert {
        "run",
        "case verify",
        "trail load",
        "trail sql",
        "remediate apply",
        "policy eval",
        "sandbox stop",
        "inventory collect",
        "entra user",
        "assess",
    } <= names


@pytest.mark.parametrize("path, cmd", TREE, ids=IDS)
def test_every_command_survives_bad_input(path, cmd, hostile, closed_endpoints, cli):
    _check = cli
    argv0 = list(path)
    _check([*argv0, "--help"])
    if tuple(path) not in NO_BARE_RUN:
        _check(argv0)
    _check([*argv0, *_fill(cmd, hostile), "--no-such-option"])
    if tuple(path) not in NO_BARE_RUN:
        _check([*argv0, *_fill(cmd, hostile)])
    for p in cmd.params:
        if getattr(p, "is_flag", False) or p.name in {"help"}:
            continue
        if tuple(path) in NO_BARE_RUN and p.name not in ("accounts", "roles_per_account", "scenario", "events"):
            continue
        values = _values_for(p.name, hostile)
        if tuple(path) in NO_BARE_RUN:  # only values that must be refused before anything starts
            values = NUMBERS[:2] if p.name != "scenario" else ["", "nosuch"]
        for value in values:
            _check([*argv0, *_with(cmd, hostile, p.name, value)])


def test_out_that_cannot_be_written_is_one_line(closed_endpoints, cli, tmp_path):
    _check = cli
    req = tmp_path / "req.json"
    req.write_text(
        json.dumps(
            {
                "principal": "arn:aws:iam::111122223333:user/a",
                "action": "s3:GetObject",
                "resource": "arn:aws:s3:::b/k",
                "identity_policies": [],
            }
        )
    )
    for out in (str(tmp_path), "/proc/no/such/dir/out.json", str(tmp_path / "missing-dir" / "x" / "out.json")):
        code, err = _check(["policy", "eval", str(req), "--format", "json", "--out", out])
        assert code in (1, 2) and err.strip(), (out, err)
