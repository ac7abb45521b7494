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


def change_recorder(ctx: RunContext, entity: str | None, host: str, *, note: str | None = None,
                    via: str | None = None, signer: dict[str, str | None] | None = None
                    ) -> Callable[[Change, str], None]:
    """Return the callback :func:`itref.ad.plan.apply` calls after each change: it journals the change (kind, DN,
    target, the attributes it touched; never a value, never a password). A change made by the schedule passes
    ``note`` (when and for whom), ``via="schedule"`` and ``signer`` (the person who scheduled it). Raises
    StateError from the journal."""

    from itref.ad.offboard import entity_of

    def record(change: Change, dn: str) -> None:
        source = change.dn if change.kind == "move" else dn  # a move is said from where it left (dn: where it is)
        what = f"{change.kind} {source}" + (f" → {change.target}" if change.target else "")
        detail = "; ".join(x for x in (", ".join(sorted(change.attributes)), note) if x) or None
        owner = entity or entity_of(ctx.project, change.dn)  # the entity whose OU held the account
        ctx.journal.append(JournalRecord(action="ad", target=what, outcome="changed", entity=owner, host=host,
                                         detail=detail, run_id=ctx.run_id, via=via, **(signer or {})))

    return record


def keep_snapshot(ctx: RunContext, snap: Snapshot, *, via: str | None = None,
                  signer: dict[str, str | None] | None = None) -> None:
    """Save how an account was before its offboarding in the state folder (``departed/``) and journal it, before
    anything changes (signed by ``signer`` when the schedule makes it for someone). Raises StateError when the
    state folder cannot take it (then nothing is changed)."""
    from itref.ad.offboard import Snapshots

    Snapshots(ctx.state).save(snap, signer=signer)
    ctx.journal.append(JournalRecord(action="ad snapshot", target=snap.dn, outcome="ok", entity=snap.entity,
                                     detail=json.dumps(asdict(snap), ensure_ascii=False), run_id=ctx.run_id,
                                     via=via, **(signer or {})))
