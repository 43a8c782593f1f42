"""`iamkit data status|refresh-ip-ranges|refresh-tor-exits`: the offline lists source IPs are checked against."""

from __future__ import annotations

from pathlib import Path

import typer

from iamkit.cli.output import FORMAT_OPT, OUT_OPT, Format, emit

app = typer.Typer(no_args_is_help=True, help="offline IP lists: AWS's ranges, Tor exits, hosting providers")


@app.command()
def status(fmt: Format = FORMAT_OPT, out: Path | None = OUT_OPT) -> None:
    """Which list each lookup reads (fetched copy, example snapshot or none), how many entries and how old."""
    import pandas as pd

    from iamkit import data

    emit(pd.DataFrame(data.status()), fmt, out)


@app.command("refresh-ip-ranges")
def refresh_ip_ranges(
    url: str = typer.Option(
        None, "--url", help="a mirror of AWS's ip-ranges.json (default: https://ip-ranges.amazonaws.com/ip-ranges.json)"
    ),
) -> None:
    """Fetch AWS's published IP ranges (the one command here that goes online), check every prefix, and keep
    them in ~/.iamkit/data/ (IAMKIT_HOME) for every later lookup."""
    from iamkit import data
    from iamkit.cli.output import say, working

    with working("fetching AWS's IP ranges…"):
        path, ranges = data.refresh_ip_ranges(data.AWS_URL if url is None else url)
    from rich.console import Console

    Console(soft_wrap=True).print(
        say(path, f": {len(ranges.table)} prefixes, published {ranges.create_date}"), highlight=False
    )


@app.command("refresh-tor-exits")
def refresh_tor_exits(
    url: str = typer.Option(
        None,
        "--url",
        help="a mirror of the Tor Project's bulk exit list (default: https://check.torproject.org/torbulkexitlist)",
    ),
) -> None:
    """Fetch the Tor Project's list of exit addresses, check it, and keep it in ~/.iamkit/data/."""
    from iamkit import data
    from iamkit.cli.output import say, working

    with working("fetching the Tor exit list…"):
        path, n = data.refresh_tor_exits(data.TOR_URL if url is None else url)
    from rich.console import Console

    Console(soft_wrap=True).print(say(path, f": {n} exit addresses"), highlight=False)
