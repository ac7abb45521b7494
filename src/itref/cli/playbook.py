"""``itref playbook``: validate, list and show the entity playbooks."""

from __future__ import annotations

from typing import Annotated

import typer

from itref.cli.state import state
from itref.core.status import ExitStatus
from itref.i18n import _

app = typer.Typer(help=_("Check, list and show the playbooks (what each entity needs)."),
                  no_args_is_help=True, rich_markup_mode=None)


@app.command()
def validate(ctx: typer.Context) -> ExitStatus:
    """Check every playbook against the schema and the inventory."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.report.inventory import to_json

    project = st.project()
    files = {e: str(p) for e, p in project.playbook_files.items()}
    if fmt == "json":
        st.out.print(to_json({"valid": True, "playbooks": files}), markup=False, soft_wrap=True)
    else:
        for entity, path in files.items():
            st.out.print(_("{file}: valid (entity {entity})").format(file=path, entity=entity), markup=False)
        if not files:
            st.err.print(_("No playbook found in {dir}.").format(dir=project.playbooks_dir), markup=False)
    return ExitStatus.SUCCESS


@app.command("list")
def list_(ctx: typer.Context) -> ExitStatus:
    """List every routine of every playbook, with its schedule."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from rich.table import Table
    from rich.text import Text

    from itref.report.inventory import to_json

    project = st.project()
    rows = [{"routine": f"{entity}/{name}", "description": r.description, "schedule": r.schedule,
             "steps": len(r.steps)}
            for entity, book in project.playbooks.items() for name, r in book.routines.items()]
    if fmt == "json":
        st.out.print(to_json(rows), markup=False, soft_wrap=True)
        return ExitStatus.SUCCESS
    table = Table()
    for title in (_("Routine"), _("What it does"), _("Schedule"), _("Steps")):
        table.add_column(title)
    for row in rows:
        table.add_row(*(Text(str(row[k] or "")) for k in ("routine", "description", "schedule", "steps")))
    st.out.print(table)
    return ExitStatus.SUCCESS


@app.command()
def show(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="ENTITY[/ROUTINE]", help=_("An entity, or one routine."))],
) -> ExitStatus:
    """Show one entity's playbook, or one routine step by step."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.core.errors import UsageError
    from itref.report.inventory import playbook_tree, to_json

    project = st.project()
    entity, _sep, routine = target.partition("/")
    book = project.playbooks.get(entity)
    if book is None:
        raise UsageError(_("no playbook for entity '{entity}' (playbooks: {known})").format(
            entity=entity, known=", ".join(sorted(project.playbooks)) or "-"))
    if routine and routine not in book.routines:
        raise UsageError(_("entity '{entity}' has no routine '{routine}' (routines: {known})").format(
            entity=entity, routine=routine, known=", ".join(book.routines) or "-"))
    if fmt == "json":
        data = book.routines[routine].model_dump(mode="json", by_alias=True, exclude_none=True) if routine \
            else book.model_dump(mode="json", by_alias=True, exclude_none=True)
        st.out.print(to_json(data), markup=False, soft_wrap=True)
    else:
        st.out.print(playbook_tree(book, routine or None))
    return ExitStatus.SUCCESS
