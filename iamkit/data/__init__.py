"""Offline reference lists for source IPs: AWS's published address ranges, Tor exit relays, hosting providers.

Lookups read files, never the network: the copies a user fetched on purpose (``iamkit data refresh-ip-ranges``,
``iamkit data refresh-tor-exits``) or placed (a hosting list) in ``<home>/data/`` (``IAMKIT_HOME``, default
``~/.iamkit``). Without a fetched copy, AWS ranges come from ``aws-ip-ranges.json`` shipped here, a small
EXAMPLE snapshot made from the prefixes AWS's documentation cites (it says so in its ``iamkit_note`` and every
answer carries ``aws_list: example``): it lets the code run offline, it does not know AWS's real ranges.
Without a Tor or hosting file the answer is ``None`` (unknown), never ``False``.

Files fetched or given are evidence-grade input, hence checked: each prefix or address must parse, the JSON
must have AWS's shape, and a file over ``MAX_BYTES`` is refused.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamkit.errors import BadInput

AWS_URL = "https://ip-ranges.amazonaws.com/ip-ranges.json"
TOR_URL = "https://check.torproject.org/torbulkexitlist"
SNAPSHOT = Path(__file__).resolve().parent / "aws-ip-ranges.json"
AWS_FILE = "aws-ip-ranges.json"
TOR_FILE = "tor-exit-addresses.txt"
HOSTING_FILE = "hosting-ranges.txt"
MAX_BYTES = 64 << 20


def data_dir() -> Path:
    """Where fetched and user-supplied lists live: ``<home>/data``."""
    from iamkit import config

    return config.load().home / "data"


# ------------------------------------------------------------------------------------------ prefix table
class PrefixTable:
    """Which prefixes contain an address: one dict per (version, prefix length), so a lookup is one masked
    dict probe per prefix length present (at most 33 or 129), whatever the list's size."""

    def __init__(self) -> None:
        self._by_len: dict[tuple[int, int], dict[int, list[dict[str, Any]]]] = {}

    def add(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network, entry: dict[str, Any]) -> None:
        key = (network.version, network.prefixlen)
        self._by_len.setdefault(key, {}).setdefault(int(network.network_address), []).append(entry)

    def __len__(self) -> int:
        return sum(len(v) for d in self._by_len.values() for v in d.values())

    def match(self, ip: Any) -> list[dict[str, Any]]:
        """Entries of every prefix containing ``ip`` (an address or its text), most specific first."""
        addr = _address(ip)
        if addr is None:
            return []
        bits = 32 if addr.version == 4 else 128
        value = int(addr)
        out: list[dict[str, Any]] = []
        for version, plen in sorted(self._by_len, key=lambda k: -k[1]):
            if version != addr.version:
                continue
            mask = ((1 << plen) - 1) << (bits - plen) if plen else 0
            out += self._by_len[(version, plen)].get(value & mask, [])
        return out


def _address(ip: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(str(ip).strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


def _network(text: Any, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError:
        raise BadInput(f"{where}: {str(text)[:80]!r} is not an IP prefix") from None


# ------------------------------------------------------------------------------------------ AWS ranges
@dataclass
class AwsRanges:
    """AWS's published ranges (``ip-ranges.json``): where they came from, their date and the prefix table."""

    source: str
    create_date: str
    example: bool
    table: PrefixTable = field(repr=False)

    def lookup(self, ip: Any) -> dict[str, Any]:
        hits = self.table.match(ip)
        services = sorted({h["service"] for h in hits}, key=lambda s: (s == "AMAZON", s))
        regions = sorted({h["region"] for h in hits})
        return {
            "aws": bool(hits),
            "aws_services": services,
            "aws_regions": regions,
            "aws_prefix": hits[0]["prefix"] if hits else None,
            "aws_list": f"{'example' if self.example else 'published'} {self.create_date}",
        }


def parse_aws_ranges(doc: Any, where: str) -> AwsRanges:
    """Check ``doc`` has the shape of AWS's ``ip-ranges.json`` and index it; a bad entry is a one-line error."""
    if not isinstance(doc, dict) or not isinstance(doc.get("prefixes"), list):
        raise BadInput(f"{where}: not AWS's ip-ranges.json (no 'prefixes' list)")
    table = PrefixTable()
    for key, field_name in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
        rows = doc.get(key) or []
        if not isinstance(rows, list):
            raise BadInput(f"{where}: '{key}' is not a list")
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get(field_name), str):
                raise BadInput(f"{where}: an entry of '{key}' has no '{field_name}'")
            net = _network(row[field_name], where)
            table.add(
                net,
                {
                    "prefix": str(net),
                    "service": str(row.get("service") or "?"),
                    "region": str(row.get("region") or "?"),
                },
            )
    return AwsRanges(where, str(doc.get("createDate") or "?"), "iamkit_note" in doc, table)


@functools.lru_cache(maxsize=4)
def _aws_ranges(path: str, mtime: float) -> AwsRanges:
    from iamkit import jsontext

    return parse_aws_ranges(jsontext.read(path), path)


def aws_ranges() -> AwsRanges:
    """The fetched ``<home>/data/aws-ip-ranges.json`` if there is one, else the shipped example snapshot."""
    p = data_dir() / AWS_FILE
    path = p if p.is_file() else SNAPSHOT
    return _aws_ranges(str(path), path.stat().st_mtime)


# ------------------------------------------------------------------------------------------ Tor, hosting
def _lines(path: Path) -> list[str]:
    if path.stat().st_size > MAX_BYTES:
        raise BadInput(f"{path}: larger than {MAX_BYTES >> 20} MiB, not a list of addresses")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    return [ln.split("#", 1)[0].strip() for ln in text.splitlines() if ln.split("#", 1)[0].strip()]


def parse_tor_exits(lines: list[str], where: str) -> frozenset[str]:
    """Tor exit addresses, one per line (the Tor Project's bulk exit list format)."""
    out = set()
    for ln in lines:
        addr = _address(ln)
        if addr is None:
            raise BadInput(f"{where}: {ln[:80]!r} is not an IP address")
        out.add(str(addr))
    return frozenset(out)


@functools.lru_cache(maxsize=4)
def _tor(path: str, mtime: float) -> frozenset[str]:
    return parse_tor_exits(_lines(Path(path)), path)


def parse_hosting(lines: list[str], where: str) -> PrefixTable:
    """Hosting providers' ranges: ``CIDR name…`` per line (the name is optional)."""
    table = PrefixTable()
    for ln in lines:
        prefix, _, name = ln.partition(" ")
        table.add(_network(prefix, where), {"name": name.strip() or "hosting", "prefix": prefix})
    return table


@functools.lru_cache(maxsize=4)
def _hosting(path: str, mtime: float) -> PrefixTable:
    return parse_hosting(_lines(Path(path)), path)


def ip_reputation(ip: Any) -> dict[str, Any]:
    """What the offline lists say about ``ip``: AWS's own space (service, region, which list), a Tor exit
    (``None`` without a list), a hosting provider (``None`` without a list)."""
    out = aws_ranges().lookup(ip)
    tor = data_dir() / TOR_FILE
    addr = _address(ip)
    out["tor_exit"] = (addr is not None and str(addr) in _tor(str(tor), tor.stat().st_mtime)) if tor.is_file() else None
    hosting = data_dir() / HOSTING_FILE
    if hosting.is_file():
        hits = _hosting(str(hosting), hosting.stat().st_mtime).match(ip)
        out["hosting"] = hits[0]["name"] if hits else ""
    else:
        out["hosting"] = None
    return out


def status() -> list[dict[str, Any]]:
    """Each list: where it is read from, its date or size, whether it is the example snapshot or missing."""
    d = data_dir()
    aws = aws_ranges()
    rows = [
        {
            "list": "AWS IP ranges",
            "file": aws.source,
            "entries": len(aws.table),
            "as_of": aws.create_date,
            "note": "EXAMPLE snapshot: run iamkit data refresh-ip-ranges" if aws.example else "published by AWS",
        }
    ]
    for name, fname, how in (
        ("Tor exit addresses", TOR_FILE, "run iamkit data refresh-tor-exits"),
        ("hosting ranges", HOSTING_FILE, "place 'CIDR name' lines there"),
    ):
        p = d / fname
        if p.is_file():
            n = len(_tor(str(p), p.stat().st_mtime)) if fname == TOR_FILE else len(_hosting(str(p), p.stat().st_mtime))
            rows.append({"list": name, "file": str(p), "entries": n, "as_of": _mtime(p), "note": ""})
        else:
            rows.append({"list": name, "file": str(p), "entries": 0, "as_of": "", "note": f"none: {how}"})
    return rows


def _mtime(p: Path) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------------------ refresh (network)
def _fetch(url: str, timeout: float) -> bytes:
    import requests

    if not url.startswith(("https://", "http://")):
        raise BadInput(f"{url[:80]!r}: give an http(s) URL")
    try:
        with requests.get(url, timeout=timeout, stream=True) as r:
            if r.status_code != 200:
                raise BadInput(f"{url}: HTTP {r.status_code}")
            body = bytearray()
            for chunk in r.iter_content(1 << 16):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise BadInput(f"{url}: larger than {MAX_BYTES >> 20} MiB, refused")
            return bytes(body)
    except requests.RequestException as e:
        raise BadInput(f"{url}: cannot fetch ({e.__class__.__name__})") from None


def _store(name: str, data: bytes) -> Path:
    from iamkit.files import write_atomic

    d = data_dir()
    d.mkdir(parents=True, exist_ok=True)
    return write_atomic(d / name, data)


def refresh_ip_ranges(url: str = AWS_URL, timeout: float = 60) -> tuple[Path, AwsRanges]:
    """Fetch AWS's ``ip-ranges.json``, check its shape and every prefix, keep it in ``<home>/data/``."""
    from iamkit import jsontext

    body = _fetch(url, timeout)
    ranges = parse_aws_ranges(jsontext.parse(body, url), url)
    if ranges.example:
        raise BadInput(f"{url}: this is iamkit's example snapshot, not AWS's list")
    return _store(AWS_FILE, body), ranges


def refresh_tor_exits(url: str = TOR_URL, timeout: float = 60) -> tuple[Path, int]:
    """Fetch the Tor Project's bulk exit list (one address per line), check it, keep it in ``<home>/data/``."""
    body = _fetch(url, timeout)
    try:
        lines = [ln.strip() for ln in body.decode("utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    except UnicodeDecodeError:
        raise BadInput(f"{url}: not UTF-8 text") from None
    exits = parse_tor_exits(lines, url)
    return _store(TOR_FILE, ("\n".join(sorted(exits)) + "\n").encode()), len(exits)
