"""`iamkit sandbox start --detach | env | status | stop` and its bad input, through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from iamkit.sandbox import daemon


def _iamkit(home, *args, timeout=300):
    env = {**os.environ, "IAMKIT_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-c", "import iamkit.cli; iamkit.cli.main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _exports(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("export "):
            k, v = line.removeprefix("export ").split("=", 1)
            out[k] = v.strip("'")
    return out


@pytest.mark.sandbox
def test_detach_env_status_stop(tmp_path):
    home = tmp_path / "home"
    r = _iamkit(
        home,
        "sandbox",
        "start",
        "--detach",
        "--events",
        "50",
        "--no-entra",
        "--roles-per-account",
        "20",
        "--seed",
        "31",
        "--trail-dir",
        str(tmp_path / "trail"),
    )
    assert r.returncode == 0, r.stderr
    started = _exports(r.stdout)
    state = json.loads((home / "sandbox.json").read_text())
    try:
        assert started["AWS_ENDPOINT_URL"] == state["endpoint_url"].strip()
        assert "SECRET" not in json.dumps(state["env"])  # no secret values in the state file
        env = _iamkit(home, "sandbox", "env")
        assert env.returncode == 0 and _exports(env.stdout) == started
        st = _iamkit(home, "sandbox", "status")
        assert st.returncode == 0 and "answering" in st.stdout and "NOT" not in st.stdout
        import boto3

        sts = boto3.client(
            "sts",
            endpoint_url=started["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id=started["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=started["AWS_SECRET_ACCESS_KEY"],
        )
        assert sts.get_caller_identity()["Account"] == state["management_account_id"]
        assert list((tmp_path / "trail").rglob("*.json.gz"))
        again = _iamkit(home, "sandbox", "start", "--detach", "--no-entra")
        assert again.returncode == 2 and "already running" in again.stderr
        replaced = _iamkit(
            home,
            "sandbox",
            "start",
            "--detach",
            "--no-entra",
            "--replace",
            "--events",
            "10",
            "--roles-per-account",
            "20",
            "--seed",
            "32",
        )
        assert replaced.returncode == 0, replaced.stderr
        assert not daemon.pid_alive(state["pid"])
        state = json.loads((home / "sandbox.json").read_text())
        assert state["seed"] == 32 and _exports(replaced.stdout)["AWS_ENDPOINT_URL"] == state["endpoint_url"]
    finally:
        stop = _iamkit(home, "sandbox", "stop")
    assert stop.returncode == 0, stop.stderr
    assert not daemon.pid_alive(state["pid"]) and not (home / "sandbox.json").exists()
    gone = _iamkit(home, "sandbox", "env")
    assert gone.returncode == 2 and "no sandbox is running" in gone.stderr


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--accounts", "3"], "at least 4"),
        (["--roles-per-account", "600"], "between 1 and 500"),
        (["--scenario", "nope"], "unknown scenario"),
        (["--variant", "nope"], "unknown variant 'nope'"),
        (["--scenario", "none", "--variant", "console"], "needs a scenario"),
        (["--events", "-1"], "--events"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, args, msg):
    r = _iamkit(tmp_path, "sandbox", "start", "--detach", *args)
    assert r.returncode == 2 and msg in r.stderr
    assert not (tmp_path / "sandbox.json").exists()


def test_stale_state_is_reported_and_removed(tmp_path):
    (tmp_path / "sandbox.json").write_text(
        json.dumps({"pid": 2**22 + 12345, "endpoint_url": "http://127.0.0.1:9", "env": {}})
    )
    r = _iamkit(tmp_path, "sandbox", "status")
    assert r.returncode == 2 and "not running any more" in r.stderr
    assert not (tmp_path / "sandbox.json").exists()


def test_env_of_restores_fake_secrets_only():
    from iamkit.sandbox.entra import CLIENT_SECRET

    state = {
        "env": {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
        "secret_env": ["AWS_SECRET_ACCESS_KEY", "IAMKIT_ENTRA_CLIENT_SECRET", "OTHER_TOKEN"],
    }
    env = daemon.env_of(state)
    assert env["AWS_SECRET_ACCESS_KEY"].startswith("sandbox-fake") and "OTHER_TOKEN" not in env
    assert env["IAMKIT_ENTRA_CLIENT_SECRET"] == CLIENT_SECRET


def test_state_file_holds_no_secret_values(sandbox, tmp_path):
    path = daemon.write_state(sandbox, tmp_path / "sandbox.json")
    text = path.read_text()
    for k, v in sandbox.env().items():
        if "SECRET" in k:
            assert v not in text
    assert daemon.env_of(json.loads(text)) == sandbox.env()


@pytest.mark.sandbox
def test_foreground_start_serves_until_sigterm(tmp_path):
    import signal

    env = {**os.environ, "IAMKIT_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import iamkit.cli; iamkit.cli.main()",
            "sandbox",
            "start",
            "--no-entra",
            "--events",
            "20",
            "--roles-per-account",
            "20",
            "--seed",
            "41",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("export IAMKIT_SANDBOX_MANIFEST="):
                break
        exports = _exports("".join(lines))
        assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:"), proc.stderr.read() if not lines else lines
        state = json.loads((tmp_path / "sandbox.json").read_text())
        assert state["pid"] == proc.pid
        assert _iamkit(tmp_path, "sandbox", "status").returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert not (tmp_path / "sandbox.json").exists()


def test_pid_alive_sees_through_zombies():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    assert daemon.pid_alive(os.getpid())
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    assert not daemon.pid_alive(p.pid)
    p.wait()
    assert not daemon.pid_alive(p.pid)


def _bystander():
    """An unrelated live process whose pid a stale state file might name."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


@pytest.mark.parametrize("recorded", ["old-format", "other-start", "other-command"])
def test_stop_never_signals_a_process_that_is_not_the_sandbox(tmp_path, recorded):
    from iamkit import process

    victim = _bystander()
    try:
        ref = process.describe(victim.pid)
        state = {"pid": victim.pid, "endpoint_url": "http://127.0.0.1:9", "env": {}}
        if recorded == "other-start":
            state["process"] = {**ref.as_dict(), "started": f"{ref.started}0"}
        elif recorded == "other-command":
            state["process"] = {**ref.as_dict(), "cmd_sha256": "0" * 64}
        (tmp_path / "sandbox.json").write_text(json.dumps(state))
        r = _iamkit(tmp_path, "sandbox", "stop", timeout=60)
        assert r.returncode == 2 and "not signalled" in r.stderr and "Traceback" not in r.stderr
        assert victim.poll() is None  # still running: nothing was sent to it
        assert not (tmp_path / "sandbox.json").exists()
        assert _iamkit(tmp_path, "sandbox", "status", timeout=60).returncode == 2
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_state_naming_the_live_process_it_recorded_is_the_sandbox():
    from iamkit import process

    me = process.current()
    assert daemon.is_sandbox({"pid": me.pid, "process": me.as_dict()})
    assert not daemon.is_sandbox({"pid": me.pid, "process": {**me.as_dict(), "pid": me.pid + 1}})


@pytest.mark.parametrize("content", ["[1, 2]", '{"pid": "1"}', '{"pid": -5}', '{"pid": true}', "{", "\udcff"])
def test_hostile_state_file_is_one_clear_error(tmp_path, content):
    (tmp_path / "sandbox.json").write_bytes(content.encode("utf-8", "surrogateescape"))
    for cmd in ("stop", "status", "env"):
        r = _iamkit(tmp_path, "sandbox", cmd, timeout=60)
        assert r.returncode == 2, (cmd, r.stderr)
        assert "Traceback" not in r.stderr and "sandbox.json" in r.stderr
