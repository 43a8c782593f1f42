"""CloudTrail sources into the DuckDB store, one module per concern: ``classify`` (what a file is, from its
structure and name), ``parse`` (odd shapes in Python), ``batch`` (the batch loader and its bookkeeping),
``s3`` (``s3://`` trails, pruned before download) and ``lookup`` (``lookup:``, the LookupEvents API).

``load(sources, con, window=…)`` is the entry point; ``iamkit.trail.load`` (on a store path or a ``Trail``)
calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.trail import store
from iamkit.trail.predicates import Filters
from iamkit.trail.sources.batch import Loader, LoadResult, discover, local_file_info
from iamkit.trail.sources.lookup import Pacer, load_lookup
from iamkit.trail.sources.s3 import load_s3
from iamkit.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import duckdb


def load(
    sources: Iterable[str | Path] | str | Path,
    con: duckdb.DuckDBPyConnection,
    *,
    window: Window | None = None,
    accounts: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    session: Any = None,
    s3_client: Any = None,
    cache_dir: str | Path | None = None,
    pacer: Pacer | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Load every source (local paths, ``s3://bucket/prefix``, ``lookup:…``) into the store ``con``, keeping
    the events inside ``window`` (default: all) and, for S3 and LookupEvents, the ``accounts``/``regions``.

    Lossless: a file counts as loaded only for the windows it was read for (a wider load reads it again),
    a file whose content changed is read again (a ``FileChanged`` row; every version's hash kept), one
    unreadable file or S3 object fails alone, and entries that are no readable record are listed."""
    if isinstance(sources, str | Path):
        sources = [sources]
    scope = Filters.make(window=window, accounts=accounts, regions=regions)
    loader = Loader(con, window=scope.window, progress=progress)
    local: list[str | Path] = []
    for src in sources:
        s = str(src)
        if s.startswith("s3://"):
            load_s3(loader, s, scope, session, s3_client, cache_dir)
        elif s.startswith("lookup:"):
            load_lookup(loader, s, scope, session, pacer)
        else:
            local.append(src)
    if local:
        loader.load_files([local_file_info(p) for p in discover(local)])
    if loader.result.error_rows:
        store.add_errors(con, loader.result.error_rows)
    return loader.result


__all__ = ["LoadResult", "Pacer", "load"]
