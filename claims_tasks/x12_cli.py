"""`claims-tasks import-837 FILE...`: X12 837P/837I interchanges into staging (docs/X12.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from claims_tasks.config import get_settings


@click.command("import-837")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def import_837(files: tuple[Path, ...]) -> None:
    """Import X12 837P (005010X222A1) and 837I (005010X223A2/A3) files into staging as new claims.

    Each file is imported whole, in one transaction, or not at all; a file imported before is skipped.
    A rejected file is named on stderr with the segment number and the reason, and the other files
    still import. Exit status 1 when any file was rejected.
    """
    from db.x12_import import import_files

    results = import_files(get_settings().staging_dsn, files)
    for r in results:
        if r.status == "imported":
            rate = r.claims / r.seconds if r.seconds else 0.0
            dupes = f", {r.duplicates:,} already in staging" if r.duplicates else ""
            click.echo(
                f"{r.path}: imported {r.claims:,} claims{dupes} from interchange {r.control_number} "
                f"({r.transaction_sets} transaction sets) in {r.seconds:.2f}s = {rate:,.0f} claims/s"
            )
        elif r.status == "already":
            click.echo(f"{r.path}: nothing imported: {r.message}")
        else:
            click.echo(f"claims-tasks: {r.message}; nothing of it was imported", err=True)
    failed = sum(not r.ok for r in results)
    if len(results) > 1:
        imported = sum(r.claims for r in results)
        click.echo(f"{len(results)} files: {imported:,} claims imported, {failed} file(s) rejected")
    sys.exit(1 if failed else 0)
