"""What every AD change leaves in the shared state: one journal record per applied change, and the snapshot of
an offboarded account. The CLI and the playbooks' AD steps both go through here, so their records are alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

from itref.journal import JournalRecord

if TYPE_CHECKING:
    from itref.ad.offboard import Snapshot
    from itref.ad.plan import Change
    from itref.context import RunContext


def change_recorder(ctx: RunContext, entity: str | None, host: str) -> Callable[[Change, str], None]:
    """Return the callback :func:`itref.ad.plan.apply` calls after each change: it journals the change (kind, DN,
    target, the attributes it touched; never a value, never a password). Raises StateError from the journal."""

    def record(change: Change, dn: str) -> None:
        what = f"{change.kind} {dn}" + (f" → {change.target}" if change.target else "")
        detail = ", ".join(sorted(change.attributes)) or None
        ctx.journal.append(JournalRecord(action="ad", target=what, outcome="changed", entity=entity, host=host,
                                         detail=detail, run_id=ctx.run_id))

    return record


def keep_snapshot(ctx: RunContext, snap: Snapshot) -> None:
    """Save how an account was before its offboarding in the state folder (``departed/``) and journal it, before
    anything changes. Raises StateError when the state folder cannot take it (then nothing is changed)."""
    from itref.ad.offboard import Snapshots

    Snapshots(ctx.state).save(snap)
    ctx.journal.append(JournalRecord(action="ad snapshot", target=snap.dn, outcome="ok", entity=snap.entity,
                                     detail=json.dumps(asdict(snap), ensure_ascii=False), run_id=ctx.run_id))
