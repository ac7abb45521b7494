"""The journal: an append-only record of everything itref ran or changed, signed by a person.

Records live in the project's state folder (``journal/YYYY-MM/<writer>.jsonl``, see :mod:`itref.state.records`),
so whoever takes the project over reads what was done before, by whom. Secret values are masked before
anything is written.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itref.i18n import N_, _
from itref.state.operator import display_name
from itref.state.records import RecordStream, now_text, parse_time

if TYPE_CHECKING:
    from itref.state.folder import StateFolder

KIND = "journal"
VIA_ENV = "ITREF_VIA"
"""Set by itref's cron lines (``cron``): records say what started them when no person did at that moment."""


OUTCOMES = {"ok": N_("ok"), "changed": N_("changed"), "failed": N_("failed"), "scheduled": N_("scheduled"),
            "cancelled": N_("cancelled"), "waiting": N_("waiting"), "held": N_("held"), "applied": N_("applied"),
            "stopped": N_("stopped"), "critical": N_("critical"), "warning": N_("warning"), "unknown": N_("unknown"),
            "unreachable": N_("unreachable"), "skipped": N_("skipped")}
"""The words a record's outcome is stored as (English, the same for everyone who shares the journal)."""

_STORED = ((re.compile(r"^(\d+) host\(s\), (\d+) check\(s\)$"), N_("{0} host(s), {1} check(s)")),
           (re.compile(r"^(\d+) new, (\d+) regressed, (\d+) resolved$"), N_("{0} new, {1} worse, {2} resolved")),
           (re.compile(r"^until (\d{4}-\d\d-\d\d): (.*)$", re.S), N_("until {0}: {1}")))
"""Sentences itref stores in English in a record (shared by people of either language), as people read them."""


ACTIONS = {"run": N_("command"), "audit": N_("audit"), "audit waive": N_("waiver given"),
           "audit unwaive": N_("waiver removed"), "routine start": N_("routine started"),
           "routine resume": N_("routine resumed"), "routine step": N_("routine step"),
           "routine waiting": N_("routine waiting"), "routine finish": N_("routine finished"),
           "routine cancel": N_("routine cancelled"), "ad": N_("directory change"),
           "ad snapshot": N_("directory: account kept"), "ad schedule": N_("directory change scheduled"),
           "ad scheduled": N_("scheduled directory change"), "ad schedule cancel": N_("scheduled change cancelled"),
           "backup check": N_("backup check"), "backup verify": N_("backup verify"),
           "backup drill": N_("restore drill"), "hosts check": N_("hosts check"),
           "schedule install": N_("schedule installed"), "schedule remove": N_("schedule removed"),
           "state migrate": N_("state moved in"),
           "handover": N_("handover pack"), "notify": N_("notification"), "copy": N_("file copy")}
"""The kinds of record (stored in English, the same for everyone), as people read them."""


def action_word(action: str) -> str:
    """Return a record's action as the person reading it says it (an action itref does not know: as stored)."""
    return _(ACTIONS[action]) if action in ACTIONS else action


def outcome_word(outcome: str) -> str:
    """Return a record's outcome as the person reading it says it (an outcome itref does not know: as stored)."""
    return _(OUTCOMES[outcome]) if outcome in OUTCOMES else outcome


def detail_shown(action: str, detail: str | None) -> str:
    """Return the detail of a record with action ``action`` as people read it ("" for none): an offboarding
    snapshot is data for ``itref ad user restore`` (``--format json`` keeps it), said in words here."""
    if action == "ad snapshot" and detail:
        return _("the account as it was, kept for itref ad user restore")
    return shown(detail)


def shown(text: str | None) -> str:
    """Return a record's stored text (target, detail) in the reader's language when itref wrote it from one of
    its own sentences; anything else (a command, a DN, a reason a person typed) is shown as stored."""
    if not text:
        return ""
    for pattern, sentence in _STORED:
        found = pattern.match(text)
        if found:
            return _(sentence).format(*found.groups())
    return text


def new_run_id() -> str:
    """Return a short id grouping the records of one itref invocation."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class JournalRecord:
    """One action: what ran or changed where, by whom, how it ended. Never holds a secret value.

    ``operator`` is the person (None when unknown: root with no name given), ``account`` and ``machine`` where
    it came from; :meth:`Journal.append` fills them in. ``via`` says what started it when no person did at
    that moment (``cron``, or ``schedule`` for a change applied at its date).
    """

    action: str
    target: str
    outcome: str
    host: str | None = None
    entity: str | None = None
    rc: int | None = None
    duration: float | None = None
    detail: str | None = None
    run_id: str = ""
    operator: str | None = None
    account: str | None = None
    machine: str | None = None
    via: str | None = None
    time: str = field(default_factory=now_text)

    @property
    def when(self) -> datetime:
        """Return the record's time as an aware datetime."""
        when = parse_time(self.time)
        assert when is not None
        return when

    @property
    def who(self) -> str:
        """Return the signer for people: the person, else "ACCOUNT, person unknown" (records written before
        itref signed them carry ``user@machine`` as operator, shown as it is)."""
        if self.operator is None and self.account is None:
            return display_name(None, None)
        return display_name(self.operator, self.account)

    def as_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data, without empty fields."""
        return {k: v for k, v in asdict(self).items() if v is not None}


class Journal:
    """Append to and read the journal of a state folder."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state
        self.stream = RecordStream(state, KIND)

    @property
    def damaged(self) -> int:
        """Return how many unreadable lines the last read skipped."""
        return len(self.stream.damage)

    @property
    def path(self) -> Any:
        """Return the journal's folder (for messages)."""
        return self.stream.path

    def append(self, record: JournalRecord) -> None:
        """Write one record, signed with this process's operator unless it already is, whole or not at all.
        Raises StateError when the state folder cannot take it (disk full, no permission)."""
        if record.account is None:
            record = replace(record, **self.state.operator.fields())
        if record.via is None and os.environ.get(VIA_ENV):
            record = replace(record, via=os.environ[VIA_ENV])
        self.stream.append(record.as_dict())

    def preflight(self) -> None:
        """Raise StateError now when no journal record could be written (before any work on a host)."""
        self.stream.preflight()

    def records(self, since: datetime | None = None) -> list[JournalRecord]:
        """Return every readable record (made at ``since`` or later), oldest first; a damaged line is skipped
        (see :attr:`damaged`)."""
        known = set(JournalRecord.__dataclass_fields__)
        out = []
        for data in self.stream.read(since):
            try:
                out.append(JournalRecord(**{k: v for k, v in data.items() if k in known}))
            except TypeError:
                self.stream.damage.places.append((self.stream.path, 0))
        return out

    def latest(self, *, entity: str, limit: int) -> list[JournalRecord]:
        """Return the ``limit`` most recent records about ``entity``, oldest first, reading months newest first
        and stopping as soon as it has them."""
        import json

        known = set(JournalRecord.__dataclass_fields__)
        needle = '"entity": ' + json.dumps(entity, ensure_ascii=False)
        out: list[JournalRecord] = []
        for data in self.stream.newest_first(contains=(needle,)):
            if data.get("entity") != entity:
                continue
            try:
                out.append(JournalRecord(**{k: v for k, v in data.items() if k in known}))
            except TypeError:
                continue
            if len(out) >= limit:
                break
        return list(reversed(out))

    def count(self, *, entity: str) -> int:
        """Return how many records are about ``entity`` (counted from the lines, without parsing them)."""
        import json

        needle = '"entity": ' + json.dumps(entity, ensure_ascii=False)
        total = 0
        for path in self.stream.files():
            try:
                with path.open(encoding="utf-8", errors="replace") as fh:
                    total += sum(1 for line in fh if needle in line)
            except OSError:
                continue
        return total

    def query(self, *, since: datetime | None = None, entity: str | None = None, host: str | None = None,
              operator: str | None = None) -> list[JournalRecord]:
        """Return the records matching every filter given, oldest first. ``operator`` matches the person's name
        or the account, ignoring case."""
        wanted = operator.casefold() if operator else None
        out = []
        for rec in self.records(since):
            if entity is not None and rec.entity != entity:
                continue
            if host is not None and rec.host != host:
                continue
            if wanted is not None and wanted not in {(rec.operator or "").casefold(), (rec.account or "").casefold()}:
                continue
            out.append(rec)
        return out
