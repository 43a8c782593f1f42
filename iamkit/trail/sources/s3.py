"""``s3://`` trails: walk the organization or account layout folder by folder, pruning accounts, regions and
days outside the scope before listing deeper; download in parallel (one object that cannot be fetched fails
alone); hand the files to the batch loader chunk by chunk (bounded disk however large the trail).
"""

from __future__ import annotations

import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from iamkit.errors import BadInput, TrailError
from iamkit.trail.predicates import Filters
from iamkit.trail.sources.batch import FileInfo, Loader, boto_session, call_error
from iamkit.trail.sources.classify import JSON_SUFFIXES, advance, layout_state


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix ending in / or empty)."""
    m = re.match(r"^s3://([^/]+)/?(.*)$", uri)
    if not m:
        raise BadInput(f"not an s3:// uri: {uri}")
    prefix = m.group(2)
    if prefix and not prefix.endswith("/") and not prefix.endswith(JSON_SUFFIXES):
        prefix += "/"
    return m.group(1), prefix


def _keep(st: dict[str, Any], role: str, scope: Filters) -> bool:
    if role == "account":
        return not scope.accounts or st["account"] in scope.accounts
    if role == "region":
        return not scope.regions or st["region"] in scope.regions
    if role == "service":
        return st["service"] in ("CloudTrail", "CloudTrail-Insight")
    if role == "year":
        return scope.window.day_ok(st["y"])
    if role == "month":
        return scope.window.day_ok(st["y"], st["m"])
    if role == "day":
        return scope.window.day_ok(st["y"], st["m"], st["d"])
    return True


def list_s3(client: Any, bucket: str, prefix: str, scope: Filters, max_depth: int = 12) -> list[dict]:
    """Objects of a trail under ``prefix``, walking folders with a delimiter and pruning by ``scope`` first
    (accounts, regions, and the window's days with a day of margin)."""
    out: list[dict] = []
    frontier = [(prefix, layout_state(prefix), 0)]
    paginator = client.get_paginator("list_objects_v2")
    while frontier:
        next_frontier = []

        def walk(item: tuple[str, dict, int]) -> tuple[list[dict], list]:
            pfx, st, depth = item
            objs, subs = [], []
            delim = st["level"] != "day" and depth < max_depth
            kwargs = {"Bucket": bucket, "Prefix": pfx} | ({"Delimiter": "/"} if delim else {})
            for page in paginator.paginate(**kwargs):
                objs.extend(o for o in page.get("Contents", []) if o["Key"].endswith(JSON_SUFFIXES))
                for cp in page.get("CommonPrefixes", []):
                    seg = cp["Prefix"][len(pfx) :].strip("/")
                    sub = dict(st)
                    role = advance(sub, seg)
                    if _keep(sub, role, scope):
                        subs.append((cp["Prefix"], sub, depth + 1))
            return objs, subs

        with ThreadPoolExecutor(max_workers=8) as pool:
            for objs, subs in pool.map(walk, frontier):
                out.extend(objs)
                next_frontier.extend(subs)
        frontier = next_frontier
    return sorted(out, key=lambda o: o["Key"])


def _local_for(dest: Path, key: str) -> Path:
    """Where object ``key`` is saved under ``dest``: its key as a relative path, never outside ``dest``."""
    parts = [p for p in key.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise TrailError(f"unsafe S3 key for a local copy: {key!r}")
    return dest.joinpath(*parts)


def download_s3(
    client: Any, bucket: str, infos: list[FileInfo], dest: Path, workers: int = 16
) -> tuple[list[FileInfo], list[tuple[FileInfo, BaseException]]]:
    """Download objects in parallel into ``dest`` (keys kept as relative paths): (fetched, failed with why).
    One object that cannot be fetched (in Glacier, denied, gone) fails alone."""

    def one(info: FileInfo) -> tuple[FileInfo, BaseException | None]:
        key = info.name.split("/", 3)[3]
        try:
            info.local = _local_for(dest, key)
            info.local.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(info.local))
            info.size = info.size or info.local.stat().st_size
            return info, None
        except Exception as e:  # botocore ClientError, endpoint and file errors: this object only
            if info.local != Path() and info.local.is_file():
                info.local.unlink(missing_ok=True)
            return info, e

    ok, failed = [], []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for info, err in pool.map(one, infos):
            (ok.append(info) if err is None else failed.append((info, err)))
    return ok, failed


#: objects downloaded (and then loaded and removed) at a time: bounds the disk a very large trail takes
S3_CHUNK = 2000


def load_s3(loader: Loader, uri: str, scope: Filters, session: Any, client: Any, cache_dir: Any) -> None:
    """Load the trail files under an ``s3://`` uri (pruned by ``scope`` before anything is downloaded)."""
    bucket, prefix = parse_s3_uri(uri)
    client = client or boto_session(session).client("s3")
    try:
        if prefix.endswith(JSON_SUFFIXES):
            head = client.head_object(Bucket=bucket, Key=prefix)
            objects = [{"Key": prefix, "ETag": head.get("ETag", ""), "Size": head.get("ContentLength", 0)}]
        else:
            objects = list_s3(client, bucket, prefix, scope)
    except Exception as e:
        loader.result.calls_failed += 1
        loader.result.error_rows.append(call_error(f"s3:ListObjectsV2 s3://{bucket}/{prefix}", e))
        return
    infos = []
    for o in objects:
        info = FileInfo(
            local=Path(), name=f"s3://{bucket}/{o['Key']}", etag=o.get("ETag", "").strip('"'), size=o.get("Size", 0)
        )
        if "/CloudTrail-Digest/" in o["Key"]:  # CloudTrail's own layout: digests live in their folder
            loader.result.digests += 1
            loader.skip(info, "digest", "CloudTrail digest (in a CloudTrail-Digest folder)", mark=False)
        else:
            infos.append(info)
    todo = loader.select(infos)
    if not todo:
        return
    tmp = None
    if cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="iamkit-s3-")
        dest = Path(tmp.name)
    else:
        dest = Path(cache_dir)
    try:
        for chunk_start in range(0, len(todo), S3_CHUNK):
            files, failed = download_s3(client, bucket, todo[chunk_start : chunk_start + S3_CHUNK], dest)
            for info, exc in failed:
                loader.fail_download(info, exc)
            loader.load_files(files, selected=True)
            if tmp is not None:
                for f in files:
                    f.local.unlink(missing_ok=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
