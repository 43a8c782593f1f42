"""What an assessment leaves behind: the engine's model lives as long as its inventory (no process-wide cache
keeps dropped inventories, their documents or their parsed policies alive)."""

from __future__ import annotations

import gc
import types

from assesstest import ACCT, Builder, allow, doc

from iamkit.policy import document, query


def _inventory():
    b = Builder()
    shared = doc(allow("s3:GetObject"))
    boundary = b.managed("fence", doc(allow("s3:*")))
    users = [b.user(f"u{i}", boundary=boundary) for i in range(3)]
    b.managed("shared", shared, attach_to=tuple((u, "user") for u in users))
    return b.inventory(), users


def test_model_is_cached_while_its_inventory_lives_and_dropped_with_it():
    inv, _users = _inventory()
    m = query.model(inv)
    assert query.model(inv) is m and query.model(inv, refresh=True) is not m
    key = id(inv)
    assert key in query._MODELS
    del inv
    gc.collect()
    assert key not in query._MODELS


def test_objects_without_weak_references_are_still_cached():
    inv, _users = _inventory()
    ns = types.SimpleNamespace(
        **{name: getattr(inv, name) for name in ("principals", "policies", "trusts", "resource_policies", "accounts")}
    )
    m = query.model(ns)
    assert query.model(ns) is m


def test_model_parses_each_document_once_without_the_process_wide_cache():
    inv, users = _inventory()
    document.clear_cache()
    m = query.build_model(inv)
    assert not document._CACHE  # nothing of the inventory kept alive after the model goes
    shared = [p for u in users for p in m.by_arn[u].identity if p.name.endswith(":policy/shared")]
    assert len(shared) == 3 and len({id(p) for p in shared}) == 1  # one document object, one parse
    fences = [m.by_arn[u].boundaries[0] for u in users]
    assert len({id(b) for b in fences}) == 1 and fences[0].kind == "boundary"  # one boundary per ARN
    assert fences[0].name == f"arn:aws:iam::{ACCT}:policy/fence"
