"""Audit history in the project's state folder: every run and its findings, to tell what is new, what
regressed, what is still failing and what was resolved since an earlier run.

One file per run, written once: ``audits/YYYY-MM/<UTC time>.<scope>.<run id>.jsonl``. Its first line says
when the run was, who ran it, what it covered (scope, entities) and how it ended; each further line is a
finding (a finding that was OK keeps only its key and severity: its text helps nobody later). The names alone
order the runs and tell their scope, so finding "the previous run of this scope" reads no file but two.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from itref.core.audits import Past
from itref.core.findings import Finding, Severity
from itref.state.folder import StateFolder
from itref.state.records import parse_time

KIND = "audits"


@dataclass(frozen=True)
class Diff:
    """What changed between two runs."""

    new: list[Finding]
    regressed: list[Finding]
    still: list[Finding]
    resolved: list[Past]
    since: str | None


@dataclass(frozen=True)
class RunInfo:
    """One recorded audit run, as its file name tells it."""

    run_id: str
    time: datetime
    scope_key: str
    path: Path


def _name_time(text: str) -> datetime | None:
    """Return the UTC time a run's file name starts with (``20261203T070000123456Z``), or None when it is not one
    (read by hand: strptime costs more than the rest of listing two years of runs)."""
    if len(text) != 22 or text[8] != "T" or text[-1] != "Z" or not (text[:8] + text[9:21]).isdigit():
        return None
    try:
        return datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]), int(text[11:13]),
                        int(text[13:15]), int(text[15:21]), tzinfo=UTC)
    except ValueError:
        return None


def scope_key(scope: str) -> str:
    """Return the short key of an audit's scope (which hosts and checks it covered) used in file names."""
    return hashlib.sha256(scope.encode("utf-8")).hexdigest()[:8]


class AuditHistory:
    """Read and write the audit history of a state folder."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state

    @property
    def path(self) -> Path:
        """Return the folder of the audit runs."""
        return self.state.sub(KIND)

    @cached_property
    def _all(self) -> list[RunInfo]:
        runs: list[RunInfo] = []
        if not self.path.is_dir():
            return runs
        self.state.check()
        for month in sorted(p for p in self.path.iterdir() if p.is_dir()):
            for path in month.glob("*.jsonl"):
                parts = path.name[: -len(".jsonl")].split(".")
                if len(parts) != 3:
                    continue
                when = _name_time(parts[0])
                if when is None:
                    continue
                runs.append(RunInfo(parts[2], when, parts[1], path))
        runs.sort(key=lambda r: (r.time, r.path.name))
        return runs

    def runs(self, scope: str | None = None) -> list[RunInfo]:
        """Return every run (of ``scope`` when given), oldest first."""
        if scope is None:
            return list(self._all)
        key = scope_key(scope)
        return [r for r in self._all if r.scope_key == key]

    def find(self, run_id: str) -> RunInfo | None:
        """Return the run ``run_id``, or None."""
        return next((r for r in self._all if r.run_id == run_id), None)

    def header(self, run: RunInfo) -> dict[str, Any]:
        """Return what the first line of a run's file says (worst, who, scope, entities...); {} if unreadable."""
        try:
            with run.path.open(encoding="utf-8") as fh:
                data = json.loads(fh.readline() or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def findings_of(self, run_id: str, *, skip_ok: bool = False) -> dict[str, Past]:
        """Return the findings of ``run_id`` by key ({} for an unknown or unreadable run); ``skip_ok`` leaves out
        the findings that were plainly OK (not waived, with no expiry date), unparsed."""
        run = self.find(run_id)
        if run is None:
            return {}
        out: dict[str, Past] = {}
        try:
            lines = run.path.read_text(encoding="utf-8").splitlines()[1:]
        except OSError:
            return out
        for line in lines:
            if skip_ok and '"severity": "ok"' in line and '"waived": true' not in line and '"expires"' not in line:
                continue
            try:
                data = json.loads(line)
                key = data["key"]
                severity = Severity(data["severity"])
            except (ValueError, KeyError, TypeError):
                continue
            check, entity, host, subject = ([*key.split("|"), "", "", "", ""])[:4]
            out[key] = Past(key, data.get("check") or check, severity, data.get("entity", entity or None),
                            data.get("host", host or None), data.get("subject", subject or None),
                            data.get("message", ""), bool(data.get("waived")), data.get("expires"))
        return out

    def previous_run(self, before: str | None = None, scope: str | None = None) -> str | None:
        """Return the id of the latest run of ``scope`` (before run ``before`` when given), or None."""
        ids = [r.run_id for r in self.runs(scope)]
        if before is not None and before in ids:
            ids = ids[: ids.index(before)]
        return ids[-1] if ids else None

    def last_about(self, entity: str | None) -> RunInfo | None:
        """Return the latest run with a finding about ``entity`` (about no entity, e.g. the directory, when
        None): an audit limited to other hosts says nothing about this entity."""
        wanted = entity if entity is not None else ""
        for run in reversed(self._all):
            if wanted in (self.header(run).get("entities") or []):
                return run
        return None

    def record(self, run_id: str, findings: list[Finding], worst: Severity, scope: str = "", *,
               when: datetime | None = None, via: str | None = None) -> Path:
        """Store a run (with its scope: which hosts and checks it covered) and its findings, in one file written
        whole. Returns the file. Raises StateError when the state folder cannot take it."""
        from itref.core.files import write_record
        from itref.secrets import mask

        when = (when or datetime.now(UTC)).astimezone(UTC)
        folder = self.state.ensure(KIND, when.strftime("%Y-%m"))
        header = {"run_id": run_id, "time": when.astimezone().isoformat(timespec="seconds"), "worst": worst.value,
                  "scope": scope, "entities": sorted({f.entity or "" for f in findings}),
                  "findings": len(findings), **self.state.operator.fields()}
        if via:
            header["via"] = via
        lines = [json.dumps(header, ensure_ascii=False, sort_keys=True)]
        for f in findings:
            expires = f.evidence.get("not_after") if isinstance(f.evidence, dict) else None
            dated = {"expires": expires} if isinstance(expires, str) else {}  # read later by `itref status`
            if f.severity is Severity.OK and f.waiver is None:
                lines.append(json.dumps({"key": f.key, "severity": "ok", **dated}, ensure_ascii=False))
            else:
                lines.append(json.dumps({"key": f.key, "check": f.check, "severity": f.severity.value,
                                         "entity": f.entity, "host": f.host, "subject": f.subject,
                                         "message": f.message, "waived": f.waiver is not None, **dated},
                                        ensure_ascii=False, sort_keys=True))
        name = f"{when.strftime('%Y%m%dT%H%M%S%fZ')}.{scope_key(scope)}.{run_id}.jsonl"
        path = folder / name
        write_record(path, mask("\n".join(lines) + "\n"), mode=self.state.file_mode)
        self.__dict__.pop("_all", None)
        return path

    def time_of(self, run_id: str) -> datetime | None:
        """Return when run ``run_id`` was made (None when unknown)."""
        run = self.find(run_id)
        if run is None:
            return None
        return parse_time(self.header(run).get("time")) or run.time

    def compare(self, findings: list[Finding], since: str | None, scope: str = "") -> tuple[list[Finding], Diff]:
        """Return ``findings`` marked with their change since run ``since`` (else the latest run of the same
        ``scope``, so audits of different entities never undo each other's news), and the diff."""
        base = since or self.previous_run(scope=scope)
        before = self.findings_of(base) if base else {}
        marked, new, regressed, still = [], [], [], []
        for f in findings:
            past = before.get(f.key)
            if not f.failing:
                change = "improved" if past is not None and past.failing else ("unchanged" if past else "new")
            elif past is None or not past.failing:
                change = "new"
                new.append(f)
            elif f.effective.rank > past.severity.rank:
                change = "regressed"
                regressed.append(f)
            else:
                change = "unchanged"
                still.append(f)
            marked.append(replace(f, change=change if base else None))
        now_keys = {f.key for f in findings if f.failing}
        resolved = [p for p in before.values() if p.failing and p.key not in now_keys]
        if not base:
            new, regressed = [f for f in findings if f.failing], []
        return marked, Diff(new, regressed, still, resolved, base)
