"""Playbook loading and parameter checks: every bad input is a clear error before any notebook starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iamkit import playbook as pb
from iamkit.errors import BadInput, NotFound

ROOT = Path(__file__).resolve().parent.parent


def _nb(path: Path, params: str = 'x = ""\ncase_dir = ""') -> Path:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": params,
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))
    return path


def _pb(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.yml"
    p.write_text(text)
    return p


GOOD = """
id: t
title: T
description: d
parameters:
  - {name: x, type: string, required: true, help: the x}
  - {name: n, type: int, default: 3, help: a number}
steps:
  - notebook: nb.ipynb
"""


def test_shipped_playbooks_load():
    for name in pb.available():
        p = pb.load(name)
        assert p.steps and p.title


def test_compromised_access_key_playbook_shape():
    p = pb.load("compromised-access-key")
    assert [s.notebook.name for s in p.steps] == [
        "01-enrichment.ipynb",
        "02-assessment.ipynb",
        "03-remediation.ipynb",
        "04-postmortem.ipynb",
    ]
    with pytest.raises(BadInput, match="does not look right"):
        p.resolve({"access_key_id": "not-a-key"})


def test_resolve_types_defaults_and_errors(tmp_path):
    _nb(tmp_path / "nb.ipynb", 'x = ""\nn = 1\ncase_dir = ""')
    p = pb.load(_pb(tmp_path, GOOD))
    assert p.resolve({"x": "a"}) == {"x": "a", "n": 3}
    assert p.resolve({"x": "a", "n": "7"})["n"] == 7
    with pytest.raises(BadInput, match="missing required parameter x"):
        p.resolve({})
    with pytest.raises(BadInput, match="unknown parameter"):
        p.resolve({"x": "a", "y": "b"})
    with pytest.raises(BadInput, match="not a valid int"):
        p.resolve({"x": "a", "n": "seven"})


def test_unknown_playbook():
    with pytest.raises(NotFound, match="unknown playbook"):
        pb.load("no-such-playbook")


@pytest.mark.parametrize(
    "text,match",
    [
        ("id: t\n", "invalid playbook"),
        (GOOD.replace("steps:", "stepz:"), "invalid playbook"),
        (GOOD.replace("nb.ipynb", "missing.ipynb"), "not found"),
        ("id: [unclosed", "not valid YAML"),
    ],
)
def test_bad_playbooks(tmp_path, text, match):
    _nb(tmp_path / "nb.ipynb")
    with pytest.raises(BadInput, match=match):
        pb.load(_pb(tmp_path, text))


def test_notebook_without_parameters_cell(tmp_path):
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(BadInput, match="no cell tagged 'parameters'"):
        pb.load(_pb(tmp_path, GOOD))


def test_step_parameter_the_notebook_does_not_take(tmp_path):
    _nb(tmp_path / "nb.ipynb")
    text = GOOD.replace("  - notebook: nb.ipynb", "  - notebook: nb.ipynb\n    parameters: {zzz: 1}")
    with pytest.raises(BadInput, match="does not declare"):
        pb.load(_pb(tmp_path, text))


def test_secret_parameters_are_refused(tmp_path):
    _nb(tmp_path / "nb.ipynb", 'x = ""\nclient_secret = ""\ncase_dir = ""')
    text = GOOD.replace(
        "  - {name: n, type: int, default: 3, help: a number}",
        "  - {name: client_secret, type: string, secret: true, help: s}",
    )
    p = pb.load(_pb(tmp_path, text))
    with pytest.raises(BadInput, match="environment"):
        p.resolve({"x": "a", "client_secret": "hunter2"})


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "iamkit.cli", *args], capture_output=True, text=True, cwd=ROOT, env=env
    )


def test_cli_unknown_playbook_exits_2_with_one_line(tmp_path):
    r = _cli("run", "nope", "--case", str(tmp_path / "c"))
    assert r.returncode == 2
    assert "unknown playbook" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_cli_missing_parameter_exits_2(tmp_path):
    r = _cli("run", "compromised-access-key", "--case", str(tmp_path / "c"))
    assert r.returncode == 2 and "missing required parameter access_key_id" in r.stderr
    assert not (tmp_path / "c").exists()


def test_cli_unreachable_endpoint_exits_2(tmp_path):
    import os
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }
    r = _cli(
        "run",
        "compromised-access-key",
        "-p",
        "access_key_id=AKIAABCDEFGHIJKLMNOP",
        "--case",
        str(tmp_path / "c"),
        env=env,
    )
    assert r.returncode == 2, r.stderr
    assert "cannot reach" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def _offline_env(**extra: str) -> dict:
    """An environment whose AWS endpoint is a closed loopback port: nothing here may reach AWS."""
    import os
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "IAMKIT_CONFIG": "/nonexistent/iamkit.yaml",
        **extra,
    }


SHADOW = """
id: compromised-access-key
title: not the real one
description: a look-alike in the current folder
parameters:
  - {name: access_key_id, type: string, required: true, help: k}
steps:
  - notebook: evil.ipynb
"""


@pytest.fixture
def lookalike(tmp_path, monkeypatch):
    """A ./playbooks/compromised-access-key.yml (and a playbook of its own name) in the current folder."""
    d = tmp_path / "playbooks"
    d.mkdir()
    _nb(d / "evil.ipynb", 'access_key_id = ""\ncase_dir = ""')
    (d / "compromised-access-key.yml").write_text(SHADOW)
    (d / "mine.yml").write_text(SHADOW.replace("id: compromised-access-key", "id: mine"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IAMKIT_PLAYBOOKS", raising=False)
    monkeypatch.setenv("IAMKIT_CONFIG", str(tmp_path / "no-config.yaml"))
    return d


def test_a_playbook_in_the_current_folder_does_not_replace_the_built_in(lookalike, monkeypatch):
    builtin = (ROOT / "playbooks" / "compromised-access-key.yml").resolve()
    assert pb.locate("compromised-access-key") == builtin
    assert pb.load("compromised-access-key").title == "Compromised IAM access key"
    with pytest.raises(NotFound):
        pb.locate("mine")  # ./playbooks is not searched unless named
    monkeypatch.setenv("IAMKIT_PLAYBOOKS", str(lookalike))
    assert pb.locate("compromised-access-key") == builtin, "a named folder does not override a built-in either"
    assert pb.locate("mine") == (lookalike / "mine.yml").resolve()
    assert pb.shadowed("compromised-access-key") == [lookalike / "compromised-access-key.yml"]
    assert pb.locate("mine", [lookalike]) == (lookalike / "mine.yml").resolve()
    assert pb.load("./playbooks/compromised-access-key.yml").title == "not the real one"  # a path is that file
    with pytest.raises(BadInput, match="playbook id"):
        pb.locate("Not A Name")


@pytest.fixture
def offline(monkeypatch):
    """In-process CLI calls with an AWS endpoint nothing listens on; returns a runner giving (code, out, err)."""
    for k, v in _offline_env().items():
        monkeypatch.setenv(k, v)

    def call(capsys, *argv: str) -> tuple[int, str, str]:
        from iamkit.cli import main

        with pytest.raises(SystemExit) as e:
            main(list(argv))
        out = capsys.readouterr()
        return e.value.code, out.out, out.err

    return call


def test_cli_run_prints_the_playbook_file(lookalike, offline, capsys):
    code, out, err = offline(capsys, "run", "compromised-access-key", "--playbooks", str(lookalike))
    assert code == 2 and "missing required parameter access_key_id" in err
    builtin = (ROOT / "playbooks" / "compromised-access-key.yml").resolve()
    assert f"playbook: {builtin}" in out
    assert str(lookalike / "compromised-access-key.yml") in out  # said, not used
    code, out, err = offline(capsys, "run", "mine", "--playbooks", str(lookalike))
    assert f"playbook: {(lookalike / 'mine.yml').resolve()}" in out and code == 2


@pytest.mark.parametrize(
    "args,match",
    [
        (
            ["-p", "access_key_id=AKIAABCDEFGHIJKLMNOP", "-p", "access_key_id=AKIAZZZZZZZZZZZZZZZZ"],
            "access_key_id is given more than once",
        ),
        (
            ["-p", "access_key_id=AKIAABCDEFGHIJKLMNOP", "-p", "start=last tuesday"],
            "parameter start: 'last tuesday' is not an ISO-8601",
        ),
        (["-p", "access_key_id=AKIAABCDEFGHIJKLMNOP", "-p", "end=2026-02-30"], "parameter end"),
        (
            ["-p", "access_key_id=AKIAABCDEFGHIJKLMNOP", "-p", "start=2026-03-02", "-p", "end=2026-03-01"],
            "start 2026-03-02 is not before end 2026-03-01",
        ),
        (["-p", "access_key_id=AKIAABCDEFGHIJKLMNOP", "-p", "start=2999-01-01"], "is not before end now"),
    ],
)
def test_cli_bad_parameters_are_refused_before_any_case_folder(tmp_path, monkeypatch, offline, capsys, args, match):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IAMKIT_CASES", str(tmp_path / "cases"))
    code, out, err = offline(capsys, "run", "compromised-access-key", *args, "--case", str(tmp_path / "c"))
    assert code == 2 and match in err, err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "something was created"


def test_a_bare_end_date_means_that_whole_day(tmp_path):
    _nb(tmp_path / "nb.ipynb", 'x = ""\nstart = ""\nend = ""\ncase_dir = ""')
    p = pb.load(
        _pb(
            tmp_path,
            GOOD.replace(
                "  - {name: n, type: int, default: 3, help: a number}",
                "  - {name: start, type: datetime, default: '', help: s}\n"
                "  - {name: end, type: datetime, default: '', help: e}",
            ),
        )
    )
    assert p.resolve({"x": "a", "start": "2026-03-01", "end": "2026-03-01"})["end"] == "2026-03-01"


@pytest.mark.parametrize("case", ["", ".", "..", "{cwd}"])
def test_cli_case_folder_must_be_a_new_folder(tmp_path, monkeypatch, offline, capsys, case):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = offline(
        capsys,
        "run",
        "compromised-access-key",
        "-p",
        "access_key_id=AKIAABCDEFGHIJKLMNOP",
        "--case",
        case.format(cwd=work),
    )
    assert code == 2 and "--case" in err, err
    assert list(work.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["work"]


# -------------------------------------------------------------------- runs (papermill, no sandbox needed)
STEP = """
import os, socket
from iamkit.case import Case
case = Case.open_for_write(case_dir, actor="notebook")
case.save_json("step", {"pid": os.getpid(), "hold": hold})
if hold:  # announce this kernel to the test, then block until it kills the run
    s = socket.create_connection(("127.0.0.1", int(hold)))
    s.sendall(f"{os.getpid()}\\n".encode())
    s.recv(1)
"""

RUNNABLE = """
id: tiny
title: Tiny
description: one step that writes evidence through the case gate
parameters:
  - {name: hold, type: string, default: "", help: "a loopback port to announce the kernel on, then block"}
steps:
  - notebook: step.ipynb
"""


def _runnable(tmp_path: Path) -> Path:
    d = tmp_path / "pb"
    d.mkdir()
    nb = {
        "cells": [
            {
                "id": "parameters",
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": 'hold = ""\ncase_dir = ""',
                "outputs": [],
                "execution_count": None,
            },
            {"id": "step", "cell_type": "code", "metadata": {}, "source": STEP, "outputs": [], "execution_count": None},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (d / "step.ipynb").write_text(json.dumps(nb))
    (d / "tiny.yml").write_text(RUNNABLE)
    return d / "tiny.yml"


@pytest.mark.notebook
def test_run_honours_iamkit_cases_and_seals_each_step(tmp_path, monkeypatch):
    from iamkit.case import Case

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IAMKIT_CASES", str(tmp_path / "elsewhere"))
    res = pb.run(_runnable(tmp_path), {}, preflight=False)
    assert res.case.path.parent == tmp_path / "elsewhere"
    assert not (tmp_path / "cases").exists()
    case = Case.open(res.case.path)
    assert case.verify() == [] and case.status == "complete"
    assert case.meta["playbook_file"] == str((tmp_path / "pb" / "tiny.yml").resolve())
    assert [h["actor"] for h in case.history()] == ["create (tiny)", "run step 1/1: step.ipynb", "finish (complete)"]
    step = case.history()[1]
    assert step["added"] == ["evidence/step.json", "notebooks/step.ipynb"]
    assert case.load_json("step")["pid"] != os.getpid()  # written by the kernel, which joined the run's session


@pytest.mark.notebook
def test_a_killed_run_is_interrupted_and_settled_by_the_next_writer(tmp_path):
    import signal
    import socket

    from iamkit.case import Case

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(1)
    case_dir = tmp_path / "c"
    code = (
        "import sys; from iamkit import playbook; "
        "playbook.run(sys.argv[1], {'hold': sys.argv[2]}, case_dir=sys.argv[3], preflight=False)"
    )
    runner = subprocess.Popen(
        [sys.executable, "-c", code, str(_runnable(tmp_path)), str(srv.getsockname()[1]), str(case_dir)],
        cwd=tmp_path,
        env=_offline_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    kernel = None
    try:
        while kernel is None:  # the kernel connects once its evidence is written
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                if runner.poll() is not None:
                    pytest.fail(f"the run ended before its step blocked: {runner.stderr.read()[-2000:]}")
                continue
            kernel = int(conn.makefile().readline())
        assert Case.open(case_dir).status == "running"
        assert [q.name for q in (case_dir / "notebooks").iterdir() if "iamkit-tmp" in q.name]
    finally:
        runner.kill()
        runner.wait()
        if kernel:
            os.kill(kernel, signal.SIGKILL)
        srv.close()
    assert Case.open(case_dir).status == "interrupted"
    r = subprocess.run(
        [sys.executable, "-m", "iamkit.cli", "case", "report", str(case_dir)],
        capture_output=True,
        text=True,
        env=_offline_env(),
    )
    assert r.returncode == 0, r.stderr
    case = Case.open(case_dir)
    assert case.meta["status"] == "interrupted" and (case_dir / "INCOMPLETE").exists()
    assert not [q for q in case_dir.rglob("*") if "iamkit-tmp" in q.name]
    settle = next(h for h in case.history() if h["actor"].startswith("settle after interrupted"))
    assert settle["added"] == ["evidence/step.json"]
    assert case.check().problems == []
