"""The escalation graph decided by the engine: split grants, Deny, boundary and SCP blocks, cross-account
AssumeRole, shortest paths, blast radius, the figure."""

from __future__ import annotations

import json

import pytest
from assesstest import ACCT, ALLOW_ALL, OTHER, Builder, allow, deny, doc, trust

from iamkit.assess.privesc import blast_radius, build_graph, load, paths_to_admin
from iamkit.assess.privesc.figure import figure
from iamkit.errors import BadInput

LAMBDA = {"Service": "lambda.amazonaws.com"}
CREATE = ["lambda:CreateFunction", "lambda:InvokeFunction"]


def methods(*ids: str):
    return [m for m in load() if m.id in ids]


def lambda_admin(b: Builder) -> str:
    return b.role("lambda-admin", trust(LAMBDA), policies=(doc(ALLOW_ALL),))


def edges(b: Builder, *ids: str) -> set[tuple[str, str, str]]:
    """(source, target, method) edges, an edge to an any:<targets> node counted as one to each member."""
    g = build_graph(b.inventory(), methods=methods(*ids) if ids else None)
    out = {(e["source"], e["target"], e["method"]) for e in g.edges}
    members = [(e["source"], e["target"]) for e in g.edges if e["method"] == "any-target"]
    return out | {(s, t, m) for s, group, m in out for g2, t in members if g2 == group}


def test_passrole_split_across_two_policies(b):
    target = lambda_admin(b)
    g = b.group("builders", policies=(doc(allow(CREATE)),))
    u = b.user("dev", groups=("builders",), policies=(doc(allow("iam:PassRole", target)),))
    assert g and (u, target, "lambda-create-invoke") in edges(b, "lambda-create-invoke")


@pytest.mark.parametrize("block", ["deny", "boundary", "scp", "trust"])
def test_passrole_blocked(b, block):
    target = (
        lambda_admin(b)
        if block != "trust"
        else b.role("ec2-only", trust({"Service": "ec2.amazonaws.com"}), policies=(doc(ALLOW_ALL),))
    )
    pols = [doc(allow(CREATE), allow("iam:PassRole", "*"))]
    boundary = None
    if block == "deny":
        pols.append(doc(deny("iam:PassRole", target)))
    if block == "boundary":
        boundary = b.managed("lambda-only", doc(allow("lambda:*")))
    if block == "scp":
        b.scp("r-root", doc(ALLOW_ALL), "root")
        b.scp(ACCT, doc(ALLOW_ALL, deny("iam:PassRole")))
    u = b.user("dev", boundary=boundary, policies=tuple(pols))
    assert not {e for e in edges(b, "lambda-create-invoke") if e[0] == u}


def test_cross_account_assume_role_edge_and_external_id(b):
    src = b.user("ops", OTHER, policies=(doc(allow("sts:AssumeRole")),))
    open_role = b.role("from-other", trust({"AWS": f"arn:aws:iam::{OTHER}:root"}), policies=(doc(ALLOW_ALL),))
    guarded = b.role(
        "guarded",
        trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, condition={"StringEquals": {"sts:ExternalId": "s3cr3t"}}),
    )
    no_identity = b.user("nobody", OTHER, policies=(doc(allow("s3:ListAllMyBuckets")),))
    got = edges(b, "sts-assume-role")
    assert (src, open_role, "sts-assume-role") in got
    assert (src, guarded, "sts-assume-role") not in got
    assert not {e for e in got if e[0] == no_identity}


def test_shortest_path_to_admin_and_hops(b):
    admin = lambda_admin(b)
    mid = b.role(
        "mid", trust({"AWS": f"arn:aws:iam::{ACCT}:root"}), policies=(doc(allow(CREATE), allow("iam:PassRole", admin)),)
    )
    u = b.user("start", policies=(doc(allow("sts:AssumeRole", mid)),))
    lonely = b.user("lonely", policies=(doc(allow("s3:ListAllMyBuckets")),))
    df = paths_to_admin(build_graph(b.inventory()))
    rows = {r["principal_arn"]: r for r in df.to_dict(orient="records")}
    assert rows[admin]["is_admin"] and rows[admin]["hops"] == 0
    assert rows[mid]["hops"] == 1 and rows[mid]["methods"] == ["lambda-create-invoke"]
    assert rows[u]["hops"] == 2 and rows[u]["methods"] == ["sts-assume-role", "lambda-create-invoke"]
    assert [h["to"] for h in rows[u]["path"]] == [mid, admin]
    assert lonely not in rows


def test_self_escalation_is_one_hop(b):
    u = b.user("selfish", policies=(doc(allow("iam:PutUserPolicy", f"arn:aws:iam::{ACCT}:user/selfish")),))
    rows = paths_to_admin(build_graph(b.inventory())).set_index("principal_arn")
    assert rows.loc[u, "hops"] == 1 and list(rows.loc[u, "methods"]) == ["iam-put-user-policy"]


def test_blast_radius_principals_and_resources(b):
    admin = lambda_admin(b)
    other = b.role("someone", trust({"Service": "ec2.amazonaws.com"}), policies=(doc(allow("s3:ListAllMyBuckets")),))
    secret = b.resource("secretsmanager", f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:db-AbC", None)
    u = b.user("dev", policies=(doc(allow(CREATE), allow("iam:PassRole", admin)),))
    far = b.resource("secretsmanager", f"arn:aws:secretsmanager:us-east-1:{OTHER}:secret:x-AbC", None, OTHER)
    df = blast_radius(build_graph(b.inventory()), u)
    got = {(r["kind"], r["arn"]): r for r in df.to_dict(orient="records")}
    assert ("role", admin) in got and got[("role", admin)]["hops"] == 1
    assert ("role", other) in got  # the administrator controls the whole account
    assert ("resource", secret) in got and "secretsmanager:GetSecretValue" in got[("resource", secret)]["access"]
    assert ("resource", far) not in got
    with pytest.raises(BadInput):
        blast_radius(build_graph(b.inventory()), "arn:aws:iam::111111111111:user/ghost")


def test_admin_sources_get_no_same_account_edges(b):
    target = lambda_admin(b)
    boss = b.user("boss", policies=(doc(ALLOW_ALL),))
    g = build_graph(b.inventory())
    assert {e["method"] for e in g.edges if e["source"] == boss} == {"is-admin"}
    assert target in g.graph


def test_edge_frame_and_figure(b):
    admin = lambda_admin(b)
    b.user("dev", policies=(doc(allow(CREATE), allow("iam:PassRole", admin)),))
    g = build_graph(b.inventory())
    frame = g.edge_frame()
    assert list(frame.columns) == ["source", "target", "method", "kind", "account_id", "via", "evidence"]
    assert all(isinstance(json.loads(e), dict) for e in frame.evidence)
    fig = figure(g)
    names = {t.name for t in fig.data}
    assert {"user", "role", "admin"} <= names
    labels = [x for t in fig.data if t.name == "methods" for x in t.text]
    assert "lambda-create-invoke" in labels


def test_catalogue_matches_its_schema_with_jsonschema():
    import jsonschema
    import yaml

    from iamkit.assess.privesc.catalog import HERE, schema

    validator = jsonschema.Draft202012Validator(schema())
    n = 0
    for path in sorted((HERE / "catalog").glob("*.yml")):
        for entry in yaml.safe_load(path.read_text()):
            assert not list(validator.iter_errors(entry)), (path.name, entry["id"])
            n += 1
    assert n == len(load()) >= 50


def test_catalogue_rejects_bad_entries(tmp_path):
    (tmp_path / "x.yml").write_text(
        "- {id: bad, kind: passrole, title: Bad one, summary: missing the PassRole action,"
        " actions: [lambda:CreateFunction], grants: principal, references: [x],"
        " service: lambda.amazonaws.com}\n"
    )
    with pytest.raises(BadInput, match="iam:PassRole"):
        load(str(tmp_path))
    (tmp_path / "x.yml").write_text(
        "- {id: bad, kind: self, title: Bad one, summary: an unknown field here,"
        " actions: [iam:PutUserPolicy], grants: admin, references: [x], scope: self,"
        " colour: red}\n"
    )
    with pytest.raises(BadInput, match="colour"):
        load(str(tmp_path) + "/")
