"""``itref inventory``: validate, show and describe the inventory."""

from __future__ import annotations

import typer

from itref.cli.state import state
from itref.core.status import ExitStatus
from itref.i18n import _

app = typer.Typer(help=_("Check and show the inventory (entities, hosts, secrets, directory)."),
                  no_args_is_help=True, rich_markup_mode=None)


@app.command()
def validate(ctx: typer.Context) -> ExitStatus:
    """Check the inventory and every playbook; list every problem as file:line:col."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.core.errors import ConfigError
    from itref.report.inventory import summary, to_json

    try:
        project = st.project()
    except ConfigError as exc:
        if fmt == "json":
            st.out.print(to_json({"valid": False, "errors": [i._asdict() for i in exc.issues]}),
                         markup=False, soft_wrap=True)
        raise
    if fmt == "json":
        st.out.print(to_json({"valid": True, "inventory": str(project.inventory_path),
                              "entities": len(project.inventory.entities), "hosts": len(project.hosts),
                              "playbooks": sorted(project.playbooks)}), markup=False, soft_wrap=True)
    else:
        st.out.print(_("{file}: valid ({summary})").format(file=project.inventory_path, summary=summary(project)),
                     markup=False)
    return ExitStatus.SUCCESS


@app.command()
def show(ctx: typer.Context) -> ExitStatus:
    """Show entities, hosts and tags (a tree, or JSON with --format json)."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.report.inventory import inventory_dict, inventory_tree, to_json

    project = st.project(playbooks=False)
    if fmt == "json":
        st.out.print(to_json(inventory_dict(project)), markup=False, soft_wrap=True)
    else:
        st.out.print(inventory_tree(project))
    return ExitStatus.SUCCESS


@app.command()
def schema(
    ctx: typer.Context,
    playbook: bool = typer.Option(False, "--playbook", help=_("The playbook schema instead of the inventory's.")),
) -> ExitStatus:
    """Print the JSON Schema of inventory.yaml (or of a playbook), e.g. for an editor."""
    import json

    from itref.config.schema import Inventory, Playbook

    model = Playbook if playbook else Inventory
    state(ctx).out.print(json.dumps(model.model_json_schema(by_alias=True), indent=2, ensure_ascii=False),
                         markup=False, soft_wrap=True)
    return ExitStatus.SUCCESS


@app.command()
def example(ctx: typer.Context) -> ExitStatus:
    """Print a commented example inventory.yaml written from the schema: every key, what it means, a value."""
    from itref.config.example import inventory_example

    state(ctx).write(inventory_example().rstrip("\n"))  # as it is: a YAML file to save
    return ExitStatus.SUCCESS
