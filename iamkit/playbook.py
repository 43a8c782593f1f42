"""Playbooks: which notebooks, with which parameters, answer which kind of incident or review.

``load`` validates a playbook YAML against ``schemas/playbook.schema.json`` and checks that every step's
notebook exists and declares the parameters it will be given (papermill ``--prepare-only`` style), so a
bad playbook, an unknown parameter or a missing required one fails before any notebook starts.
``run`` executes the steps with papermill into a case folder and writes the report and manifest.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamkit.errors import BadInput, EndpointUnreachable, IamkitError, NotFound

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "playbooks"
BAD_INPUT_ERRORS = {"BadInput", "NotFound", "EndpointUnreachable", "PolicyError", "TrailError"}
_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


def user_dirs(extra: list[Path | str] | None = None) -> list[Path]:
    """Folders of the user's own playbooks, only where named: ``--playbooks DIR`` then the ``playbooks``
    setting (``IAMKIT_PLAYBOOKS``, folders separated by ``os.pathsep``). The current folder is never implied."""
    from iamkit import config

    setting = config.load().playbooks
    return [Path(d).expanduser() for d in [*(extra or []), *setting.split(os.pathsep)] if str(d)]


def search_path(extra: list[Path | str] | None = None) -> list[Path]:
    """Where a bare playbook name is looked up: the built-in playbooks first, then the named folders."""
    return [BUILTIN, *user_dirs(extra)]


def available(extra: list[Path | str] | None = None) -> dict[str, Path]:
    """Playbook id → file; a built-in wins over a file of the same name in a user folder."""
    found: dict[str, Path] = {}
    for d in search_path(extra):
        for p in sorted(d.glob("*.yml")) if d.is_dir() else []:
            found.setdefault(p.stem, p.resolve())
    return found


def shadowed(name: str, extra: list[Path | str] | None = None) -> list[Path]:
    """User playbook files named like a built-in one, hence not used for the bare name."""
    if not (BUILTIN / f"{name}.yml").is_file():
        return []
    return [d / f"{name}.yml" for d in user_dirs(extra) if (d / f"{name}.yml").is_file()]


def locate(name_or_path: str | Path, extra: list[Path | str] | None = None) -> Path:
    """The playbook file: a path (has a ``/`` or ends in ``.yml``/``.yaml``) is that file; a bare name is the
    built-in playbook of that name if there is one, else the first named folder's."""
    s = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in s or os.sep in s or s.endswith((".yml", ".yaml")):
        path = Path(s).expanduser()
        if not path.is_file():
            raise NotFound(f"playbook file {s} not found")
        return path.resolve()
    if not _ID.fullmatch(s):
        raise BadInput(f"playbook {s!r}: give a playbook id (lowercase letters, digits, '-') or a path to a .yml file")
    found = available(extra)
    if s not in found:
        raise NotFound(f"unknown playbook {s!r}; available: {', '.join(sorted(found)) or 'none'}")
    return found[s]


@dataclass
class Parameter:
    name: str
    type: str
    help: str
    required: bool = False
    default: Any = None
    pattern: str | None = None
    secret: bool = False

    @property
    def fillable(self) -> bool:
        """Whether a trigger may fill it: its value is checked (a pattern, a datetime or an int), never a secret."""
        return not self.secret and bool(self.pattern or self.type in ("datetime", "int"))

    def convert(self, raw: Any) -> Any:
        """Turn a CLI string (or a Python value) into the declared type, or raise BadInput."""
        try:
            if self.type == "int":
                value = int(raw)
            elif self.type == "float":
                value = float(raw)
            elif self.type == "bool":
                value = raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes", "on")
                if not isinstance(raw, bool) and str(raw).strip().lower() not in (
                    "1",
                    "true",
                    "yes",
                    "on",
                    "0",
                    "false",
                    "no",
                    "off",
                ):
                    raise ValueError(raw)
            elif self.type == "list":
                value = raw if isinstance(raw, list) else [s for s in str(raw).split(",") if s]
            elif self.type == "datetime":
                value = _checked_time(self.name, raw)
            else:
                value = str(raw)
        except (TypeError, ValueError):
            raise BadInput(f"parameter {self.name}: {raw!r} is not a valid {self.type}") from None
        if self.pattern and isinstance(value, str) and value and not re.fullmatch(self.pattern, value):
            raise BadInput(f"parameter {self.name}: {value!r} does not look right (expected {self.pattern})")
        return value


@dataclass
class Step:
    notebook: Path
    title: str
    parameters: dict[str, Any]


@dataclass
class Playbook:
    id: str
    title: str
    description: str
    path: Path
    parameters: list[Parameter]
    steps: list[Step]
    triggers: dict[str, Any] = field(default_factory=dict)
    schedule: str | None = None
    answers: list[str] = field(default_factory=list)
    kind: str = "incident"

    @property
    def trigger_map(self) -> dict[str, str]:
        """Parameter name → finding field (``iamkit.triggers.FIELDS``) a trigger fills it from: the playbook's
        ``triggers.map``, plus every checked parameter named like a finding field (``access_key_id`` ←
        ``access_key_id``)."""
        from iamkit.triggers import FIELDS

        out = {p.name: p.name for p in self.parameters if p.name in FIELDS and p.fillable}
        out.update((self.triggers or {}).get("map") or {})
        return out

    def resolve(self, given: dict[str, Any]) -> dict[str, Any]:
        """Typed parameter values: unknown names and missing required ones are errors."""
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise BadInput(
                f"playbook {self.id}: unknown parameter(s) {', '.join(unknown)}; it takes {', '.join(known)}"
            )
        out: dict[str, Any] = {}
        for p in self.parameters:
            if p.name in given:
                if p.secret:
                    raise BadInput(
                        f"parameter {p.name} is a secret: pass it through the environment, "
                        "never as a notebook parameter"
                    )
                out[p.name] = p.convert(given[p.name])
            elif p.required:
                raise BadInput(f"playbook {self.id}: missing required parameter {p.name} ({p.help})")
            elif p.default is not None:
                out[p.name] = p.convert(p.default)
        self._check_window(out)
        return out

    def _check_window(self, values: dict[str, Any]) -> None:
        """A ``start``/``end`` pair of datetime parameters must be a window: start before end (empty end: now)."""
        from iamkit.window import Window

        types = {p.name: p.type for p in self.parameters}
        if types.get("start") != "datetime" or types.get("end") != "datetime":
            return
        given = values.get("start") or None, values.get("end") or None
        try:
            w = Window.parse(*given, names=("start", "end"))
        except BadInput:
            w = None
        if w is None or (w.start is not None and w.start >= (w.end or dt.datetime.now(dt.UTC))):
            raise BadInput(
                f"playbook {self.id}: start {values.get('start')} is not before end {values.get('end') or 'now'}"
            )


def _checked_time(name: str, raw: Any) -> str:
    """A datetime parameter as given (empty allowed), checked by the one window parser (``iamkit.window``)."""
    from iamkit.window import parse_time

    text = raw.isoformat() if isinstance(raw, dt.datetime | dt.date) else str(raw).strip()
    if text:
        try:
            parse_time(text, name=name)
        except BadInput:
            raise BadInput(
                f"parameter {name}: {text!r} is not an ISO-8601 date or time (or a span: 14d, 36h)"
            ) from None
    return text


def load(name_or_path: str | Path, extra: list[Path | str] | None = None) -> Playbook:
    """Load and validate a playbook by id (``compromised-access-key``) or path (see ``locate``)."""
    import jsonschema
    import yaml

    path = locate(name_or_path, extra)
    try:
        doc = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: not valid YAML ({e.__class__.__name__})") from None
    schema = json.loads((Path(__file__).parent / "schemas" / "playbook.schema.json").read_text())
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        raise BadInput(f"{path}: invalid playbook at {where}: {e.message}") from None
    params = [Parameter(**p) for p in doc["parameters"]]
    steps = []
    for s in doc["steps"]:
        nb = Path(s["notebook"])
        if not nb.is_absolute():
            nb = (path.parent / nb).resolve()
        if not nb.is_file():
            raise BadInput(f"{path}: step notebook {s['notebook']} not found")
        steps.append(Step(nb, s.get("title", nb.stem), s.get("parameters", {})))
    pb = Playbook(
        doc["id"],
        doc["title"],
        doc["description"],
        path,
        params,
        steps,
        doc.get("triggers", {}),
        doc.get("schedule"),
        doc.get("answers", []),
        doc.get("kind", "incident"),
    )
    _check_schedule(pb)
    _check_trigger_map(pb)
    _check_notebook_parameters(pb)
    return pb


def _check_schedule(pb: Playbook) -> None:
    """A schedule is a cadence word or a cron expression the scheduler can read; only reviews have one."""
    if pb.schedule is None:
        return
    if pb.kind != "review":
        raise BadInput(
            f"{pb.path}: schedule {pb.schedule!r} on a playbook of kind {pb.kind}: only reviews "
            "(kind: review) run on a schedule"
        )
    from iamkit.schedule import cadence

    cadence(pb.schedule, where=str(pb.path))


def _check_trigger_map(pb: Playbook) -> None:
    """Each mapped parameter exists and is one a finding may fill: its value is checked (a pattern, or a
    datetime/int type), so a crafted finding can never hand over a path, a URL or free text."""
    from iamkit.triggers import FIELDS

    mapping = (pb.triggers or {}).get("map") or {}
    known = {p.name: p for p in pb.parameters}
    for name, fld in mapping.items():
        if name not in known:
            raise BadInput(f"{pb.path}: triggers.map names parameter {name}, which the playbook does not take")
        if fld not in FIELDS:
            raise BadInput(
                f"{pb.path}: triggers.map {name}: unknown finding field {fld!r} (known: {', '.join(sorted(FIELDS))})"
            )
    for name in mapping:
        if not known[name].fillable:
            raise BadInput(
                f"{pb.path}: triggers.map {name}: a finding may only fill a parameter with a pattern "
                "(or of type datetime or int)"
            )


def notebook_parameters(path: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (what papermill can inject)."""
    import ast

    nb = json.loads(path.read_text())
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            names = set()
            for node in ast.parse(src).body:
                targets = (
                    node.targets
                    if isinstance(node, ast.Assign)
                    else ([node.target] if isinstance(node, ast.AnnAssign) else [])
                )
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
            return names
    return set()


def _check_notebook_parameters(pb: Playbook) -> None:
    declared = {p.name for p in pb.parameters} | {"case_dir"}
    for step in pb.steps:
        accepts = notebook_parameters(step.notebook)
        if not accepts:
            raise BadInput(f"{pb.path}: notebook {step.notebook.name} has no cell tagged 'parameters'")
        extra = sorted(set(step.parameters) - accepts)
        if extra:
            raise BadInput(
                f"{pb.path}: step {step.notebook.name} passes {', '.join(extra)}, which the notebook does not declare"
            )
        if "case_dir" not in accepts:
            raise BadInput(f"{pb.path}: notebook {step.notebook.name} must take a case_dir parameter")
        if not accepts & declared - {"case_dir"} and pb.parameters:
            raise BadInput(f"{pb.path}: notebook {step.notebook.name} takes none of the playbook's parameters")


def caller_identity() -> dict[str, Any]:
    """Who we are in AWS (recorded in case.yaml); an unreachable endpoint is a clear error."""
    import botocore.exceptions as bex

    from iamkit.aws.session import client_config, new_session

    try:
        ident = new_session().client("sts", config=client_config()).get_caller_identity()
    except (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError) as e:
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "AWS")
        raise EndpointUnreachable(f"cannot reach {endpoint}: {e.__class__.__name__}") from None
    except bex.NoCredentialsError:
        raise BadInput("no AWS credentials: set a profile or AWS_ACCESS_KEY_ID (or run the sandbox)") from None
    except bex.NoRegionError:
        raise BadInput("no AWS region: set AWS_DEFAULT_REGION or a profile's region (or run the sandbox)") from None
    except bex.ClientError as e:
        raise BadInput(f"AWS refused GetCallerIdentity: {e.response['Error'].get('Code')}") from None
    return {k: ident[k] for k in ("Account", "Arn", "UserId")}


@dataclass
class RunResult:
    case: Any  # iamkit.case.Case
    report: Path
    summary: dict[str, Any]


def case_target(case_dir: Path | str | None) -> Path | None:
    """``--case`` as given, refused when it is empty, ``.``, the current folder or one above it (a case's
    files would land among the user's own)."""
    if case_dir is None:
        return None
    text = str(case_dir).strip()
    if text in ("", "."):
        raise BadInput(f"--case {text!r}: name a new folder for the case (or leave --case out)")
    path = Path(text).expanduser()
    here = Path.cwd().resolve()
    if path.resolve() == here or path.resolve() in here.parents:
        raise BadInput(f"--case {text}: that is the current folder or one above it; name a new folder")
    return path


def run(
    name_or_path: str | Path,
    given: dict[str, Any],
    *,
    cases_root: Path | str | None = None,
    case_dir: Path | str | None = None,
    on_step: Callable[[int, int, str], None] | None = None,
    preflight: bool = True,
    playbook_dirs: list[Path | str] | None = None,
    key_file: Path | str | None = None,
    trigger: dict[str, Any] | None = None,
    index: bool = True,
) -> RunResult:
    """Run a playbook's notebooks with papermill into a new case folder; returns the case and report.

    Every check (playbook, parameters, the ``--case`` folder, the caller identity) comes before the folder is
    made. Each step's notebook is written under a temporary name and renamed when it ends; the case is sealed
    after every step, so its history shows what each step added. ``trigger`` (what started the run, from
    ``iamkit.triggers.record``) is kept as ``evidence/trigger.json``. A run into the cases folder (no ``--case``)
    rebuilds its ``index.html`` afterwards, whatever the run's outcome (``index=False``: not)."""
    from iamkit import config
    from iamkit.case import Case, case_key
    from iamkit.files import temp_path

    pb = load(name_or_path, playbook_dirs)
    params = pb.resolve(given)
    target = case_target(case_dir)
    root = target if target is not None else Path(cases_root if cases_root is not None else config.load().cases_dir)
    case_key(key_file, case_dir=target or root)  # a bad key is an error before anything is made
    ident = caller_identity() if preflight else {}
    case = Case.create(
        root,
        pb.id,
        params,
        caller_identity=ident,
        case_id=target.name if target is not None else None,
        secret_names=frozenset(p.name for p in pb.parameters if p.secret),
        key_file=key_file,
        playbook_file=pb.path,
    )
    saved_key = os.environ.get("IAMKIT_CASE_KEY")
    if key_file:  # the step kernels verify with the same key: they get its file's path, never the key
        os.environ["IAMKIT_CASE_KEY"] = f"@{Path(key_file).expanduser().resolve()}"
    try:
        if trigger is not None:
            case.save_json("trigger", trigger)
        for i, step in enumerate(pb.steps, 1):
            if on_step:
                on_step(i, len(pb.steps), step.title)
            accepts = notebook_parameters(step.notebook)
            nb_params = {k: v for k, v in params.items() if k in accepts}
            nb_params.update(step.parameters)
            nb_params["case_dir"] = str(case.path.resolve())
            dst = case.path / "notebooks" / step.notebook.name
            tmp = temp_path(dst, ".ipynb")
            try:
                _execute(step.notebook, tmp, nb_params, dst)
            finally:
                if tmp.exists():  # a failed notebook (with its traceback) is evidence too
                    os.replace(tmp, dst)
            case.seal(actor=f"run step {i}/{len(pb.steps)}: {step.notebook.name}")
        from iamkit import report

        report_path = report.build(case)
        summary = report.load_summary(case)
        case.finish("complete")
        return RunResult(case, report_path, summary)
    except BaseException as e:  # the case is marked failed whatever happened, then the error goes on
        case.finish("failed", error=str(e).splitlines()[0] if str(e) else e.__class__.__name__)
        raise
    finally:
        if key_file:
            if saved_key is None:
                os.environ.pop("IAMKIT_CASE_KEY", None)
            else:
                os.environ["IAMKIT_CASE_KEY"] = saved_key
        if index and target is None:
            rebuild_index(root)


def rebuild_index(root: Path | str) -> Path | None:
    """``index.html`` of the cases folder rebuilt; a failure is a warning on stderr, never a failed run."""
    import sys

    from iamkit import caseindex

    try:
        return caseindex.build(root)
    except (IamkitError, OSError) as e:
        from iamkit.escape import visible

        print(visible(f"warning: {Path(root) / caseindex.INDEX} not rebuilt: {e}"), file=sys.stderr)
        return None


def _execute(src: Path, out: Path, params: dict[str, Any], dst: Path) -> None:
    """Run ``src`` into ``out`` (a temporary name); errors name ``dst``, where the notebook ends up."""
    from papermill.exceptions import PapermillExecutionError

    from iamkit.kernels import execute_notebook

    # IAMKIT_CELL_TIMEOUT (seconds per cell) turns a stuck kernel into an error instead of a hang; unset, a cell
    # may run as long as it needs (a months-long CloudTrail load can)
    timeout = os.environ.get("IAMKIT_CELL_TIMEOUT")
    try:
        execute_notebook(src, out, params, cwd=dst.parent, timeout=int(timeout) if timeout else None)
    except PapermillExecutionError as e:
        msg = f"{src.name}: {e.evalue}".splitlines()[0]
        if e.ename in BAD_INPUT_ERRORS:
            raise BadInput(msg) from None
        first = f"{e.ename}: {e.evalue}".splitlines()[0]
        raise IamkitError(f"{src.name} failed: {first} (traceback in {dst})") from None
