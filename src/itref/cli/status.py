"""``itref status``: the stand-in's first command of the day."""

from __future__ import annotations

from typing import Annotated

import typer

from itref.cli import complete
from itref.cli.clock import NOW_HELP
from itref.cli.state import state
from itref.core.status import ExitStatus
from itref.i18n import _


def status(
    ctx: typer.Context,
    entity: Annotated[str | None, typer.Option("--entity", "-e", autocompletion=complete.entities,
                                               help=_("Only this entity."))] = None,
    now: Annotated[str | None, typer.Option("--now", hidden=True, help=NOW_HELP)] = None,
) -> ExitStatus:
    """What needs a person today, entity by entity, each line with the command to continue: the last audit and
    what is new, backups and restore drills, routines due, unfinished routines, scheduled changes, waivers and
    certificates ending soon, and whether this machine runs itref's schedule. Reads only the inventory and the
    shared state: no machine is contacted. Exit code: the worst line (0, 6, 7, 8), as the audit."""
    st = state(ctx)
    fmt = st.require_format("table", "json", "markdown")
    from itref.cli.clock import moment
    from itref.core.errors import UsageError
    from itref.core.findings import exit_status
    from itref.i18n import document_language, use_language
    from itref.schedule import crontab_store
    from itref.status.collect import collect

    when = moment(now)
    project = st.project()
    if entity is not None and entity not in project.inventory.entities:
        raise UsageError(_("unknown entity '{name}' (entities: {known})").format(
            name=entity, known=", ".join(project.inventory.entities)))
    # Read by the stand-in and shown to others: in the inventory's language unless --lang / ITREF_LANG says otherwise.
    with use_language(document_language(project.inventory.language)):
        found = collect(project, when, entities=[entity] if entity else None, crontab=crontab_store().read)
        if fmt == "json":
            from itref.status.collect import to_json

            st.write(to_json(found))
        elif fmt == "markdown":
            from itref.report.status import status_markdown

            st.out.print(status_markdown(found), markup=False, highlight=False, soft_wrap=True, end="")
        else:
            from itref.report.status import status_view

            st.out.print(status_view(found), soft_wrap=True)
    return exit_status(found.worst)
