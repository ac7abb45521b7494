"""Saved routine runs as people read them: who started which routine, when, where it stopped and what it waits
for (``itref playbook runs``, the choice ``itref playbook resume`` offers, and ``itref status``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itref.i18n import _

if TYPE_CHECKING:
    from itref.config.project import Project
    from itref.runner.routine import RunState


@dataclass(frozen=True)
class RunView:
    """One saved run, in words."""

    run_id: str
    routine: str
    entity: str | None
    params: dict[str, Any]
    """The parameters given, without the secret answers (never saved)."""
    who: str
    started: datetime | None
    state: str
    """``open``, ``finished`` or ``cancelled``."""
    next_step: int
    total: int
    """How many steps the routine has now (0 when the routine is no longer in the playbooks)."""
    step: str | None
    """The description of the step it stopped at (None when finished, or the step no longer exists)."""
    waits: str
    """What it waits for, in words (the manual step's instruction, a retry after a failure, someone)."""
    cancelled: str | None

    @property
    def where(self) -> str:
        """Return where it stopped: "step 3/5: Create the account"."""
        if self.step is None:
            return _("step {n}").format(n=self.next_step)
        return _("step {n}/{total}: {description}").format(n=self.next_step, total=self.total,
                                                          description=self.step)

    def as_dict(self) -> dict[str, Any]:
        """Return the run as JSON-ready data."""
        return {"id": self.run_id, "routine": self.routine, "entity": self.entity, "params": self.params,
                "who": self.who, "started": self.started.isoformat(timespec="seconds") if self.started else None,
                "state": self.state, "next_step": self.next_step, "steps": self.total, "step": self.step,
                "waits_for": self.waits, "cancelled": self.cancelled}


def view(project: Project, run: RunState) -> RunView:
    """Return ``run`` in words, its steps read from the playbooks as they are now."""
    from itref.core.errors import UsageError
    from itref.runner.routine import flatten
    from itref.state.operator import display_name
    from itref.state.records import parse_time

    entity, _sep, name = run.target.partition("/")
    try:
        steps = flatten(project, entity, name)
    except UsageError:
        steps = []
    step = next((s for s in steps if s.number == run.next_step), None)
    last = run.records[-1] if run.records else None
    if run.finished:
        waits, state = _("nothing: it is finished"), "finished"
    elif run.cancelled:
        waits, state = _("nothing: it was cancelled ({reason})").format(reason=run.cancelled), "cancelled"
    elif not steps:
        waits, state = _("a person to cancel it: its routine is no longer in the playbooks"), "open"
    elif run.waiting_for:
        waits, state = _("a person to do: {what}").format(what=run.waiting_for), "open"
    elif last is not None and last.status == "failed" and last.number == run.next_step:
        first = last.message.splitlines()[0] if last.message else "?"
        waits, state = _("a retry of this step, which failed: {why}").format(why=first), "open"
    else:
        waits, state = _("someone to resume it"), "open"
    who = display_name(run.operator, run.account) if (run.operator or run.account) else "?"
    return RunView(run.run_id, run.target, entity or None,
                   {k: v for k, v in run.params.items() if k not in run.secret_params}, who,
                   parse_time(run.started), state, run.next_step, len(steps),
                   step.step.description if step is not None and not run.finished else None, waits, run.cancelled)
