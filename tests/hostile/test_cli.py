"""The command line prints evidence as it is: rich markup in a value is text (it neither styles nor crashes),
and control characters cannot drive the terminal."""

from __future__ import annotations

import pandas as pd
import pytest
from payloads import FRAME_PAYLOADS

from iamkit import escape
from iamkit.cli import main
from iamkit.cli.output import Format, emit, say


def _flat(s: str) -> str:
    return " ".join(s.split())


@pytest.mark.parametrize("name", ["[/]", "[bold red]x[/] \x1b[2J", "x[/bold]", "[link=http://evil.example]x"])
def test_error_messages_show_markup_as_text_and_exit_2(name, capsys):
    """Regression: the error line went through rich markup; ``[/]`` in a value raised MarkupError."""
    with pytest.raises(SystemExit) as e:
        main(["run", name])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert _flat(err).startswith("error: ") and "playbook" in err
    shown = escape.visible(name)  # a bare name is an unknown playbook; one with '/' a path that does not exist
    assert f"unknown playbook {name!r};" in err or f"playbook file {shown} not found" in _flat(err)
    assert "\x1b" not in err and "Traceback" not in err


@pytest.mark.parametrize("payload", FRAME_PAYLOADS, ids=range(len(FRAME_PAYLOADS)))
def test_tables_print_cells_and_headers_literally(payload, capsys):
    emit(pd.DataFrame([{"col": payload, payload[:40]: "x"}]), Format.table, title=payload[:40])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    folded = "".join(line.strip(" │┃|") for line in out.splitlines())  # rich folds long cells over lines
    for piece in escape.visible(payload).split():
        assert piece[:30] in folded.replace(" ", "") or piece[:30] in out, piece


def test_say_keeps_library_styles_and_shows_values_literally():
    t = say(("FAIL", "red"), " ", "[bold]x[/] \x1b[2J")
    assert t.plain == "FAIL [bold]x[/] ⟨U+001B⟩[2J"
    assert [(s.start, s.end, str(s.style)) for s in t.spans] == [(0, 4, "red")]


def test_case_verify_names_a_hostile_file_literally(tmp_path, capsys):
    from iamkit.case import Case

    case = Case.create(tmp_path, "p", {}, case_id="c")
    case.finish()
    (case.path / "evidence" / "[bold red]planted[reverse].json").write_text("{}")
    with pytest.raises(SystemExit) as e:
        main(["case", "verify", str(case.path)])
    out = capsys.readouterr().out
    assert e.value.code == 1
    assert "FAIL evidence/[bold red]planted[reverse].json: not in manifest" in out


def test_person_view_prints_graph_values_literally(capsys):
    """``iamkit correlate``: a display name or a skip reason from Graph is printed as it is."""
    from iamkit.cli.entra import _print_view
    from iamkit.correlate import PersonView
    from iamkit.entra import frames as _  # noqa: F401  registers the entra_* frames
    from iamkit.frames import conform, empty

    v = "[bold]Eve[/] \x1b[2J"
    view = PersonView(
        upn="eve[/]@corp.example",
        profile=conform([{"display_name": v, "account_enabled": True}], "entra_user"),
        mfa=empty("entra_mfa"),
        signins=empty("entra_signins"),
        groups=empty("person_groups"),
        identity_center_user=empty("person_identity_center_user"),
        assignments=empty("person_assignments"),
        roles=empty("person_roles"),
        sessions=empty("person_sessions"),
        activity=empty("person_activity"),
        timeline=empty("person_timeline"),
        errors=conform([{"operation": v, "code": "c", "message": v}], "errors"),
        skipped={"risk": v},
    )
    _print_view(view)
    out = capsys.readouterr().out
    assert "eve[/]@corp.example — [bold]Eve[/] ⟨U+001B⟩[2J; enabled=True" in out
    assert "skipped risk: [bold]Eve[/] ⟨U+001B⟩[2J" in out
    assert "\x1b" not in out
