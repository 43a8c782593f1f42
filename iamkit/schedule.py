"""Scheduled reviews: a playbook's ``schedule`` (a cadence word or a five-field cron expression), the cron lines
and systemd timer/service units that run it, and which reviews are due given their last run in the cases folder.

A cadence word is due when its last completed run is older than the cadence (less an hour, so a daily run at
06:00:05 yesterday is due at 06:00 today); a cron expression is due when it fired since the last completed run.
Failed runs do not count as runs: the review is due again until one completes.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iamkit.errors import BadInput

#: cadence word -> (its period, the cron expression and systemd OnCalendar it is written as)
CADENCES: dict[str, tuple[dt.timedelta, str, str]] = {
    "daily": (dt.timedelta(days=1), "0 6 * * *", "*-*-* 06:00:00"),
    "weekly": (dt.timedelta(days=7), "0 6 * * 1", "Mon *-*-* 06:00:00"),
    "monthly": (dt.timedelta(days=30), "0 6 1 * *", "*-*-01 06:00:00"),
    "quarterly": (dt.timedelta(days=91), "0 6 1 1,4,7,10 *", "*-01,04,07,10-01 06:00:00"),
}
SLACK = dt.timedelta(hours=1)

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_DOW = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_ITEM = re.compile(r"(\*|\d{1,2}(?:-\d{1,2})?)(?:/(\d{1,2}))?")


@dataclass(frozen=True)
class Cadence:
    text: str
    cron: str
    on_calendar: str
    period: dt.timedelta | None  # a cadence word's period; None for a cron expression
    sets: tuple[frozenset[int], ...]

    def last_fire(self, now: dt.datetime) -> dt.datetime:
        """The latest minute at or before ``now`` the cron expression fires (searched day by day, at most 4 years)."""
        minutes, hours, days, months, dows = self.sets
        dom_any, dow_any = len(days) == 31, len(dows) >= 7
        t = now.replace(second=0, microsecond=0)
        day = t.date()
        for _ in range(4 * 366 + 1):
            dow = (day.weekday() + 1) % 7
            day_ok = (day.day in days and dow in dows) if (dom_any or dow_any) else (day.day in days or dow in dows)
            if day.month in months and day_ok:
                for h in sorted(hours, reverse=True):
                    for m in sorted(minutes, reverse=True):
                        cand = dt.datetime(day.year, day.month, day.day, h, m, tzinfo=dt.UTC)
                        if cand <= t:
                            return cand
            day -= dt.timedelta(days=1)
        raise BadInput(f"schedule {self.text!r} never fires")

    def due(self, last_run: dt.datetime | None, now: dt.datetime) -> bool:
        if last_run is None:
            return True
        if self.period is not None:
            return now - last_run >= self.period - SLACK
        return last_run < self.last_fire(now)


def _field(text: str, name: str, lo: int, hi: int) -> frozenset[int]:
    out: set[int] = set()
    for item in text.split(","):
        m = _ITEM.fullmatch(item)
        if not m:
            raise BadInput(f"{name} {item!r}: use *, N, N-M, */S or N-M/S")
        step = int(m.group(2) or 1)
        if m.group(1) == "*":
            a, b = lo, hi
        elif "-" in m.group(1):
            a, b = map(int, m.group(1).split("-"))
        else:
            a = int(m.group(1))
            b = hi if m.group(2) else a
        if not (lo <= a <= b <= hi) or step < 1:
            raise BadInput(f"{name} {item!r}: out of range {lo}-{hi}")
        out.update(range(a, b + 1, step))
    if name == "day of week" and 7 in out:
        out = (out - {7}) | {0}
    return frozenset(out)


def _calendar_part(text: str, names: list[str] | None = None, width: int = 2) -> str:
    """A cron field in systemd OnCalendar spelling (``*/15`` → ``0/15``, ``1-5`` → ``1..5``, names for days)."""
    if text == "*":
        return "*"
    parts = []
    for item in text.split(","):
        m = _ITEM.fullmatch(item)
        assert m is not None  # checked by _field
        base, step = m.group(1), m.group(2)
        if names is not None:
            if step:
                raise BadInput(f"day of week {item!r}: systemd has no step for weekdays; list the days")
            parts.append("..".join(names[int(x)] for x in base.split("-")))
            continue
        base = "00" if base == "*" else "..".join(x.zfill(width) for x in base.split("-"))
        parts.append(f"{base}/{step}" if step else base)
    return ",".join(parts)


def cadence(text: str, *, where: str = "") -> Cadence:
    """Parse a schedule: ``daily``/``weekly``/``monthly``/``quarterly`` or a five-field cron expression."""
    text = str(text).strip()
    prefix = f"{where}: " if where else ""
    if text in CADENCES:
        period, cron, cal = CADENCES[text]
        return Cadence(text, cron, cal, period, _sets(cron, prefix))
    return Cadence(text, text, _on_calendar(text, prefix), None, _sets(text, prefix))


def _sets(cron: str, prefix: str) -> tuple[frozenset[int], ...]:
    parts = cron.split()
    if len(parts) != 5:
        raise BadInput(f"{prefix}schedule {cron!r}: give daily, weekly, monthly, quarterly or five cron fields")
    try:
        return tuple(_field(p, n, lo, hi) for p, (n, lo, hi) in zip(parts, _FIELDS, strict=True))
    except BadInput as e:
        raise BadInput(f"{prefix}schedule {cron!r}: {e}") from None


def _on_calendar(cron: str, prefix: str) -> str:
    _sets(cron, prefix)
    mi, h, dom, mon, dow = cron.split()
    if dom != "*" and dow != "*":
        raise BadInput(
            f"{prefix}schedule {cron!r}: day of month and day of week together mean either in cron, "
            "both in systemd; pick one"
        )
    try:
        day = "" if dow == "*" else _calendar_part(dow, _DOW) + " "
    except BadInput as e:
        raise BadInput(f"{prefix}schedule {cron!r}: {e}") from None
    return f"{day}*-{_calendar_part(mon)}-{_calendar_part(dom)} {_calendar_part(h)}:{_calendar_part(mi)}:00"


# ------------------------------------------------------------------------------------------ runs and units
def scheduled(extra: list[Path | str] | None = None) -> list[Any]:
    """Every playbook with a schedule (loaded, hence validated), by id."""
    from iamkit import playbook

    out = []
    for _, path in sorted(playbook.available(extra).items()):
        pb = playbook.load(path)
        if pb.schedule:
            out.append(pb)
    return out


def last_runs(cases_root: Path | str) -> dict[str, dt.datetime]:
    """Playbook id → when its newest completed case under ``cases_root`` was created. Folders that are not
    cases (or not readable ones) are passed over: they are not runs."""
    from iamkit import caseindex

    out: dict[str, dt.datetime] = {}
    for c in caseindex.scan(cases_root):
        if c["status"] not in caseindex.COMPLETE or not c["created_at"]:
            continue
        if c["playbook"] not in out or c["created_at"] > out[c["playbook"]]:
            out[c["playbook"]] = c["created_at"]
    return out


def load_params(path: Path | str | None) -> dict[str, dict[str, str]]:
    """The parameters of scheduled runs, from a YAML or JSON file: ``{playbook id: {parameter: value}}`` (a
    review such as ``least-privilege`` needs its principal and store). None: no file, no parameters."""
    import yaml

    if path is None:
        return {}
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise BadInput(f"schedule parameters {path}: {str(e).splitlines()[0]}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, dict) for k, v in doc.items()):
        raise BadInput(f"schedule parameters {path}: expected a mapping of playbook id to a mapping of parameters")
    out: dict[str, dict[str, str]] = {}
    for pid, values in doc.items():
        if not all(isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in values.items()):
            raise BadInput(f"schedule parameters {path}: {pid}: each parameter must be a name and a plain value")
        out[pid] = {k: str(v) for k, v in values.items()}
    return out


def missing(pb: Any, params: dict[str, str]) -> list[str]:
    """The required parameters of playbook ``pb`` that have neither a default nor a value in ``params``;
    BadInput for a name in ``params`` the playbook does not have (a typo would only fail at 06:00)."""
    known = {p.name for p in pb.parameters}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadInput(
            f"schedule parameters for {pb.id}: unknown parameter {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )
    return [p.name for p in pb.parameters if p.required and p.name not in params and p.default in (None, "")]


def due(
    cases_root: Path | str,
    *,
    now: dt.datetime | None = None,
    extra: list[Path | str] | None = None,
    params: dict[str, dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """One row per scheduled playbook: its schedule, last completed run, whether it is due now, and the
    required parameters it still needs (``params``: see ``load_params``)."""
    now = now or dt.datetime.now(dt.UTC)
    last = last_runs(cases_root)
    rows = []
    for pb in scheduled(extra):
        c = cadence(pb.schedule)
        when = last.get(pb.id)
        rows.append(
            {
                "playbook": pb.id,
                "schedule": pb.schedule,
                "last_run": when.isoformat(timespec="seconds") if when else "",
                "due": c.due(when, now),
                "needs": ", ".join(missing(pb, (params or {}).get(pb.id, {}))),
            }
        )
    return rows


def _run_args(pb: Any, params: dict[str, dict[str, str]] | None) -> list[str]:
    """``iamkit run ID -p name=value …``: the command line a scheduler runs for ``pb``."""
    args = [sys.executable, "-m", "iamkit.cli", "run", pb.id]
    for k, v in sorted((params or {}).get(pb.id, {}).items()):
        args += ["-p", f"{k}={v}"]
    return args


def cron_lines(
    cases_root: Path | str, extra: list[Path | str] | None = None, params: dict[str, dict[str, str]] | None = None
) -> list[str]:
    """A crontab: one line per scheduled playbook (UTC), the cases folder set in the environment; a playbook
    whose required parameters are not in ``params`` is listed as a comment naming them."""
    root = shlex.quote(str(Path(cases_root).resolve()))
    lines = ["# iamkit scheduled reviews (times in UTC: set CRON_TZ=UTC where cron supports it)", "CRON_TZ=UTC"]
    for pb in scheduled(extra):
        c = cadence(pb.schedule)
        need = missing(pb, (params or {}).get(pb.id, {}))
        if need:
            lines.append(f"# {pb.id} ({pb.schedule}) needs parameters {', '.join(need)}: give them with --params FILE")
            continue
        run = " ".join(shlex.quote(x) for x in _run_args(pb, params))
        # cron turns an unescaped % into a newline: escape it wherever a path may carry one
        lines.append(f"{c.cron} IAMKIT_CASES={root} {run}  # {pb.id}: {pb.schedule}".replace("%", "\\%"))
    return lines


def systemd_units(
    cases_root: Path | str, extra: list[Path | str] | None = None, params: dict[str, dict[str, str]] | None = None
) -> list[tuple[str, str]]:
    """(file name, text) of a service and a timer unit per scheduled playbook (not those whose required
    parameters ``params`` does not give)."""
    root = str(Path(cases_root).resolve())
    out = []
    for pb in scheduled(extra):
        if missing(pb, (params or {}).get(pb.id, {})):
            continue
        c = cadence(pb.schedule)
        name = f"iamkit-{pb.id}"
        exec_start = " ".join(_systemd_quote(x) for x in _run_args(pb, params))
        out.append(
            (
                f"{name}.service",
                "\n".join(
                    [
                        "[Unit]",
                        f"Description=iamkit {pb.id} ({pb.schedule})",
                        "",
                        "[Service]",
                        "Type=oneshot",
                        f"Environment={_systemd_quote('IAMKIT_CASES=' + root)}",
                        f"ExecStart={exec_start}",
                        "",
                    ]
                ),
            )
        )
        out.append(
            (
                f"{name}.timer",
                "\n".join(
                    [
                        "[Unit]",
                        f"Description=iamkit {pb.id} ({pb.schedule})",
                        "",
                        "[Timer]",
                        f"OnCalendar={c.on_calendar} UTC",
                        "Persistent=true",
                        f"Unit={name}.service",
                        "",
                        "[Install]",
                        "WantedBy=timers.target",
                        "",
                    ]
                ),
            )
        )
    return out


def _systemd_quote(s: str) -> str:
    """A word for a systemd unit line: double-quoted, with backslash, quote, ``%`` and ``$`` escaped."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$") + '"'
