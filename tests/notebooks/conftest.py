"""A playbook run on its own sandbox scenario, shared by the incident playbooks' tests: the module names
``SCENARIO``, ``SEED`` (its own: moto's state is per process) and ``PLAYBOOK``; the fixture starts that sandbox,
runs the playbook from the subject of the scenario's answer key, and stops the sandbox after the module."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest


class SandboxEnv:
    """Point boto3 (and the notebooks' kernels) at one sandbox for a while, then back."""

    def __init__(self, sb):
        self.env = sb.env()

    def __enter__(self):
        import boto3

        self.saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        boto3.DEFAULT_SESSION = None

    def __exit__(self, *exc):
        import boto3

        for k, v in self.saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        boto3.DEFAULT_SESSION = None


@pytest.fixture(scope="session")
def sandbox_env():
    return SandboxEnv


@pytest.fixture(scope="module")
def scenario_run(request, tmp_path_factory):
    """(sb, key, run): the module's scenario sandbox, its one answer key (schema-checked), the playbook's run."""
    import iamkit.sandbox
    from iamkit import playbook
    from iamkit.investigate import facts as F

    mod = request.module
    sb = iamkit.sandbox.start(
        scenario=mod.SCENARIO,
        seed=mod.SEED,
        roles_per_account=25,
        benign_events=300,
        entra=getattr(mod, "ENTRA", False),  # a person playbook needs the fake Entra
        workdir=tmp_path_factory.mktemp(f"sandbox-{mod.SCENARIO}"),
    )
    try:
        keys = json.loads(sb.manifest_path.read_text())["answer_keys"]
        assert len(keys) == 1
        F.validate(keys[0])
        with SandboxEnv(sb):
            run = playbook.run(
                mod.PLAYBOOK,
                {"subject": keys[0]["subject"]["id"]},
                case_dir=tmp_path_factory.mktemp("cases") / mod.PLAYBOOK,
            )
        yield SimpleNamespace(sb=sb, key=keys[0], run=run)
    finally:
        sb.stop()


@pytest.fixture(scope="session")
def replay():
    """``replay(sb)`` → (records checked, problems): the scenario's records through the policy engine with the
    sandbox's seeded IAM and SCPs (successes must be allowed, denials denied)."""

    def check(sb):
        from iamkit.inventory import collect
        from iamkit.policy import decide
        from iamkit.sandbox import trailgen, verify

        with SandboxEnv(sb):
            inv = collect(org=True, service_last_accessed=False)
        records = trailgen.scenario_records(sb.org, days=14, end=sb.now, seed=sb.org.seed)
        return verify.incoherent(
            records,
            lambda r: (
                decide(inv, r["principal"], r["action"], r["resource"], context=r["context"], explain=False).allowed
            ),
        )

    return check
