"""Settings from ``~/.config/iamkit/config.yaml`` (or ``IAMKIT_CONFIG``) overlaid by ``IAMKIT_*`` env vars."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


def _default_home() -> Path:
    return Path(os.environ.get("IAMKIT_HOME", Path.home() / ".iamkit"))


@dataclass
class Settings:
    home: Path = field(default_factory=_default_home)
    cases_dir: Path = field(default_factory=lambda: Path(os.environ.get("IAMKIT_CASES", "cases")))
    region: str = "us-east-1"
    max_workers: int = 16
    analyst: str = field(default_factory=lambda: os.environ.get("USER", "analyst"))
    # every AWS/Graph call: an endpoint that accepts and never answers fails within about
    # connect_timeout + read_timeout per attempt, max_attempts attempts (IAMKIT_READ_TIMEOUT=… to change)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 6
    # MaxMind databases for source-IP context in investigations (country/city and ASN .mmdb; empty: none)
    country_mmdb: str = ""
    asn_mmdb: str = ""
    # folders of your own playbooks (os.pathsep-separated), searched after the built-in ones; IAMKIT_PLAYBOOKS
    playbooks: str = ""
    # the keyed case seal: hex or base64, or @file; IAMKIT_CASE_KEY. Never written into a case.
    case_key: str = field(default="", repr=False)

    @property
    def sandbox_state(self) -> Path:
        """Where a running sandbox records its endpoints (read by ``iamkit sandbox env``)."""
        return self.home / "sandbox.json"


def load() -> Settings:
    """Settings from the config file, then the environment (``IAMKIT_REGION=…`` and so on)."""
    s = Settings()
    path = Path(os.environ.get("IAMKIT_CONFIG", Path.home() / ".config" / "iamkit" / "config.yaml"))
    values: dict = {}
    if path.is_file():
        import yaml

        values = yaml.safe_load(path.read_text()) or {}
    for f in fields(Settings):
        env = os.environ.get(f"IAMKIT_{f.name.upper()}")
        if env is not None:
            values[f.name] = env
    if not isinstance(values, dict):
        from iamkit.errors import BadInput

        raise BadInput(f"settings file {path} must be a mapping of names to values")
    for f in fields(Settings):
        if f.name in values:
            cur = getattr(s, f.name)
            v = values[f.name]
            try:
                value = Path(v) if isinstance(cur, Path) else type(cur)(v)
            except (TypeError, ValueError):
                value = None
            if value is None or (isinstance(value, (int, float)) and not 0 < value < 1e6):
                from iamkit.errors import BadInput

                raise BadInput(
                    f"setting {f.name} (IAMKIT_{f.name.upper()}) must be a positive {type(cur).__name__}, got {v!r}"
                )
            setattr(s, f.name, value)
    return s
