"""``itref handover``: write the handover pack, what a stand-in colleague needs, to read or to print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from itref.cli.state import state
from itref.core.status import ExitStatus
from itref.i18n import _


def handover(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option("--output", "-o", help=_(
        "Folder to write the pack into (created if needed). Needed unless --format json."))] = None,
    entity: Annotated[str | None, typer.Option("--entity", "-e", help=_("Only this entity."))] = None,
    force: Annotated[bool, typer.Option("--force", help=_(
        "Write into a folder that is not empty and holds no previous pack."))] = False,
) -> ExitStatus:
    """Write the handover pack: per entity, who to call, machines, where passwords are kept, routines step by
    step, backups, open problems, recent journal and notes; as Markdown and as printable HTML, with an index."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.core.errors import UsageError

    if output is None and fmt != "json":
        raise UsageError(_("say where to write the pack with --output FOLDER"))
    from itref.handover.output import check_folder, write_pack
    from itref.handover.pack import collect, to_data
    from itref.i18n import document_language, use_language
    from itref.journal import JournalRecord

    if output is not None:
        check_folder(output, force=force)  # before reading anything: a refusal should be quick
    rctx = st.context()
    # A pack is read by others: in the inventory's language unless --lang / ITREF_LANG says otherwise.
    with use_language(document_language(rctx.project.inventory.language)):
        pack = collect(rctx.project, [entity] if entity else None)
        files = write_pack(pack, output, force=force) if output is not None else []
    names = ", ".join(e.name for e in pack.entities)
    rctx.journal.append(JournalRecord(
        action="handover", target=str(output) if output is not None else "stdout", outcome="ok", entity=entity,
        detail=_("{n} file(s); entities: {names}").format(n=len(files), names=names), run_id=rctx.run_id))
    if fmt == "json":
        import json

        from itref.secrets import mask

        data = {**to_data(pack), "files": [str(f) for f in files]}
        st.out.print(mask(json.dumps(data, ensure_ascii=False, indent=2)), markup=False, soft_wrap=True,
                     highlight=False)
        return ExitStatus.SUCCESS
    for path in files:
        st.out.print(str(path), markup=False, highlight=False, soft_wrap=True)
    st.err.print(_("Handover pack written to {path}: open index.html, or print each entity's page (A4).").format(
        path=output), markup=False)
    return ExitStatus.SUCCESS
