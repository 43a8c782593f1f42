"""Source-IP context: kind (public, private, AWS service…), country and ASN, never a network lookup.

Country comes from the offline database shipped in the ``iptocc`` package (updated with its releases);
country and ASN come from user-supplied MaxMind databases (GeoLite2-Country/City/ASN ``.mmdb``) when given,
read with ``maxminddb``. CloudTrail's ``sourceIPAddress`` also holds service names
(``iam.amazonaws.com``) and ``AWS Internal``: those are classified, not looked up.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit import frames
from iamkit.errors import BadInput

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

frames.register(
    "ip_context",
    {"ip": frames.S, "kind": frames.S, "country": frames.S, "asn": frames.I, "as_org": frames.S, "source": frames.S},
    "Context of source IPs: kind public|documentation|private|loopback|link_local|reserved|aws_service|"
    "aws_internal|invalid; country ISO code; ASN; source = which database answered.",
)


_DOCUMENTATION = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]
#: Kinds worth a country/ASN lookup (a user-supplied mmdb may well map documentation ranges).
LOOKUP_KINDS = ("public", "documentation")


def classify(value: Any) -> str:
    """What a CloudTrail ``sourceIPAddress`` is: public | documentation | private | loopback | link_local |
    reserved | multicast | aws_service | aws_internal | invalid."""
    if value is None or (isinstance(value, float) and value != value):
        return "invalid"
    text = str(value).strip()
    low = text.lower()
    if low.endswith(".amazonaws.com") or low.endswith(".amazon.com") or low.endswith(".aws.internal"):
        return "aws_service"
    if low == "aws internal":
        return "aws_internal"
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return "invalid"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _DOCUMENTATION if net.version == ip.version):
        return "documentation"  # TEST-NET ranges: what examples and the sandbox use for "internet" addresses
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved or ip.is_unspecified:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"  # shared address space (100.64/10), documentation ranges kept apart from private
    return "public"


class IpContext:
    """Offline IP enrichment: country (iptocc, or a MaxMind country/city mmdb) and ASN (a MaxMind ASN mmdb)."""

    def __init__(
        self, country_mmdb: str | Path | None = None, asn_mmdb: str | Path | None = None, use_iptocc: bool = True
    ):
        self._country = _open_mmdb(country_mmdb) if country_mmdb else None
        self._asn = _open_mmdb(asn_mmdb) if asn_mmdb else None
        self._iptocc = None
        if use_iptocc:
            try:
                import iptocc

                self._iptocc = iptocc
            except ImportError:  # optional: without it only mmdb answers
                self._iptocc = None

    def lookup(self, ip: Any) -> dict[str, Any]:
        """Context of one value (kind always; country/ASN only for public and documentation addresses)."""
        kind = classify(ip)
        row: dict[str, Any] = {
            "ip": None if ip is None else str(ip),
            "kind": kind,
            "country": None,
            "asn": None,
            "as_org": None,
            "source": None,
        }
        if kind not in LOOKUP_KINDS:
            return row
        text = str(ip).strip()
        sources = []
        if self._country is not None:
            rec = self._country.get(text) or {}
            code = (rec.get("country") or rec.get("registered_country") or {}).get("iso_code")
            if code:
                row["country"] = code
                sources.append("mmdb")
        if row["country"] is None and self._iptocc is not None:
            code = self._iptocc.country_code(text)
            if code:
                row["country"] = code
                sources.append("iptocc")
        if self._asn is not None:
            rec = self._asn.get(text) or {}
            if rec.get("autonomous_system_number") is not None:
                row["asn"] = int(rec["autonomous_system_number"])
                row["as_org"] = rec.get("autonomous_system_organization")
                sources.append("mmdb-asn")
        row["source"] = "+".join(sources) or None
        return row

    def frame(self, ips: Iterable[Any]) -> pd.DataFrame:
        """An ``ip_context`` frame for the distinct values of ``ips``."""
        seen = list(dict.fromkeys(str(i) for i in ips if i is not None))
        return frames.conform([self.lookup(i) for i in seen], "ip_context") if seen else frames.empty("ip_context")

    def enrich(self, df: pd.DataFrame, column: str = "source_ip", prefix: str = "ip_") -> pd.DataFrame:
        """``df`` with ``ip_kind``, ``ip_country``, ``ip_asn``, ``ip_as_org`` columns for ``column``."""
        ctx = self.frame(df[column].dropna().unique()).set_index("ip")
        out = df.copy()
        for col in ("kind", "country", "asn", "as_org"):
            out[prefix + col] = out[column].astype("string").map(ctx[col]) if len(ctx) else None
        return out


def _open_mmdb(path: str | Path) -> Any:
    try:
        import maxminddb
    except ImportError:
        raise BadInput("reading a MaxMind database needs the maxminddb package (pip install maxminddb)") from None

    p = Path(path)
    if not p.is_file():
        raise BadInput(f"MaxMind database not found: {p}")
    try:
        return maxminddb.open_database(str(p))
    except (maxminddb.InvalidDatabaseError, ValueError, OSError) as e:
        raise BadInput(f"not a MaxMind database: {p}: {e}") from None
