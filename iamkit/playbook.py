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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamkit.errors import BadInput, EndpointUnreachable, IamkitError, NotFound

ROOT = Path(__file__).resolve().parent.parent
BAD_INPUT_ERRORS = {"BadInput", "NotFound", "EndpointUnreachable", "PolicyError", "TrailError"}


def search_path() -> list[Path]:
    """Where playbooks are looked up: $IAMKIT_PLAYBOOKS, ./playbooks, then the kit's own."""
    dirs = [Path(p) for p in os.environ.get("IAMKIT_PLAYBOOKS", "").split(os.pathsep) if p]
    return dirs + [Path.cwd() / "playbooks", ROOT / "playbooks"]


def available() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in search_path():
        for p in sorted(d.glob("*.yml")) if d.is_dir() else []:
            found.setdefault(p.stem, p)
    return found


@dataclass
class Parameter:
    name: str
    type: str
    help: str
    required: bool = False
    default: Any = None
    pattern: str | None = None
    secret: bool = False

    def convert(self, raw: Any) -> Any:
        """Turn a CLI string (or a Python value) into the declared type, or raise BadInput."""
        import re

        try:
            if self.type == "int":
                value = int(raw)
            elif self.type == "float":
                value = float(raw)
            elif self.type == "bool":
                value = raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes", "on")
                if not isinstance(raw, bool) and str(raw).strip().lower() not in (
                        "1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise ValueError(raw)
            elif self.type == "list":
                value = raw if isinstance(raw, list) else [s for s in str(raw).split(",") if s]
            elif self.type == "datetime":
                value = raw if isinstance(raw, str) and raw == "" else dt.datetime.fromisoformat(
                    str(raw).replace("Z", "+00:00")).isoformat()
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
    triggers: dict[str, list[str]] = field(default_factory=dict)
    schedule: str | None = None
    answers: list[str] = field(default_factory=list)

    def resolve(self, given: dict[str, Any]) -> dict[str, Any]:
        """Typed parameter values: unknown names and missing required ones are errors."""
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise BadInput(f"playbook {self.id}: unknown parameter(s) {', '.join(unknown)}; "
                           f"it takes {', '.join(known)}")
        out: dict[str, Any] = {}
        for p in self.parameters:
            if p.name in given:
                if p.secret:
                    raise BadInput(f"parameter {p.name} is a secret: pass it through the environment, "
                                   "never as a notebook parameter")
                out[p.name] = p.convert(given[p.name])
            elif p.required:
                raise BadInput(f"playbook {self.id}: missing required parameter {p.name} ({p.help})")
            elif p.default is not None:
                out[p.name] = p.convert(p.default)
        return out


def load(name_or_path: str | Path) -> Playbook:
    """Load and validate a playbook by id (``compromised-access-key``) or path."""
    import jsonschema
    import yaml

    path = Path(name_or_path)
    if not path.is_file():
        found = available()
        if str(name_or_path) not in found:
            raise NotFound(f"unknown playbook {name_or_path!r}; available: {', '.join(sorted(found)) or 'none'}")
        path = found[str(name_or_path)]
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
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
    pb = Playbook(doc["id"], doc["title"], doc["description"], path, params, steps,
                  doc.get("triggers", {}), doc.get("schedule"), doc.get("answers", []))
    _check_notebook_parameters(pb)
    return pb


def notebook_parameters(path: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (what papermill can inject)."""
    import ast

    nb = json.loads(path.read_text())
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            names = set()
            for node in ast.parse(src).body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
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
            raise BadInput(f"{pb.path}: step {step.notebook.name} passes {', '.join(extra)}, "
                           "which the notebook does not declare")
        if "case_dir" not in accepts:
            raise BadInput(f"{pb.path}: notebook {step.notebook.name} must take a case_dir parameter")
        if not accepts & declared - {"case_dir"} and pb.parameters:
            raise BadInput(f"{pb.path}: notebook {step.notebook.name} takes none of the playbook's parameters")


def caller_identity() -> dict[str, Any]:
    """Who we are in AWS (recorded in case.yaml); an unreachable endpoint is a clear error."""
    import boto3
    import botocore.exceptions as bex

    try:
        ident = boto3.client("sts").get_caller_identity()
    except (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError) as e:
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "AWS")
        raise EndpointUnreachable(f"cannot reach {endpoint}: {e.__class__.__name__}") from None
    except bex.NoCredentialsError:
        raise BadInput("no AWS credentials: set a profile or AWS_ACCESS_KEY_ID (or run the sandbox)") from None
    except bex.ClientError as e:
        raise BadInput(f"AWS refused GetCallerIdentity: {e.response['Error'].get('Code')}") from None
    return {k: ident[k] for k in ("Account", "Arn", "UserId")}


@dataclass
class RunResult:
    case: Any  # iamkit.case.Case
    report: Path
    summary: dict[str, Any]


def run(name_or_path: str | Path, given: dict[str, Any], *, cases_root: Path | str = "cases",
        case_dir: Path | str | None = None, on_step: Callable[[int, int, str], None] | None = None,
        preflight: bool = True) -> RunResult:
    """Run a playbook's notebooks with papermill into a new case folder; returns the case and report."""
    from iamkit.case import Case, temp_path

    pb = load(name_or_path)
    params = pb.resolve(given)
    ident = caller_identity() if preflight else {}
    root = Path(case_dir) if case_dir else Path(cases_root)
    case = Case.create(root, pb.id, params, caller_identity=ident,
                       case_id=Path(case_dir).name if case_dir else None,
                       secret_names=frozenset(p.name for p in pb.parameters if p.secret))
    try:
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


def _execute(src: Path, out: Path, params: dict[str, Any], dst: Path) -> None:
    """Run ``src`` into ``out`` (a temporary name); errors name ``dst``, where the notebook ends up."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    # IAMKIT_CELL_TIMEOUT (seconds per cell) turns a stuck kernel into an error instead of a hang; unset, a cell
    # may run as long as it needs (a months-long CloudTrail load can)
    timeout = os.environ.get("IAMKIT_CELL_TIMEOUT")
    try:
        pm.execute_notebook(str(src), str(out), parameters=params, kernel_name="python3",
                            progress_bar=False, cwd=str(dst.parent), log_output=False,
                            execution_timeout=int(timeout) if timeout else None)
    except PapermillExecutionError as e:
        msg = f"{src.name}: {e.evalue}".splitlines()[0]
        if e.ename in BAD_INPUT_ERRORS:
            raise BadInput(msg) from None
        first = f"{e.ename}: {e.evalue}".splitlines()[0]
        raise IamkitError(f"{src.name} failed: {first} (traceback in {dst})") from None
