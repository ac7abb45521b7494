"""Windows checks over WinRM: disk space, automatic services, pending reboot, age of the last update,
Microsoft Defender, recent critical events, firewall profiles.

Each check's PowerShell prints one line of JSON (``ConvertTo-Json -Compress``) built from CIM and
cmdlet objects with invariant values only: numbers stay JSON numbers, dates are ISO 8601 UTC strings
(``.ToUniversalTime().ToString('o')``), states are WMI's fixed English values (``Win32_Service.State``)
or enum names (``"True"``, ``"Block"``), never the console's formatted, localized text. What Windows
translates (service display names, event messages, update titles) is carried only to be shown, never
parsed, so a French Windows ("Spouleur d'impression") gives the same findings as an English one.
Thresholds and wording live here, in itref, as for Linux.

Size budget: every section of a host goes in one ``powershell -EncodedCommand`` line (UTF-16LE in
base64, about 2.7 characters per script character, at most 32 000), so the bodies stay short.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from itref.audit.base import Check, Facts, level
from itref.audit.registry import register
from itref.core.findings import Finding, Severity
from itref.i18n import _, format_date, format_number, format_threshold

GIB = 1024**3
"""Windows Explorer's "GB" (a gibibyte), so the figures match what the person sees on the server."""
EVENT_HOURS = 24
EVENT_MAX = 200
MESSAGE_SHOWN = 160
"""Characters of a localized text (event message, update title, error) shown in a finding."""
CLEAN_EXIT = (0, 1077)
"""Win32_Service.ExitCode of a service that stopped normally (0) or was never started (1077)."""
DEFINITION_KBS = ("KB2267602", "KB4052623", "KB915597", "KB2461484")
"""Defender / antimalware definition and platform updates: installed daily, they say nothing about patches."""

DEFAULT_IGNORED_SERVICES = [
    "gupdate", "gupdatem", "GoogleUpdater*", "edgeupdate", "edgeupdatem", "MapsBroker", "sppsvc", "RemoteRegistry",
    "WbioSrvc", "tiledatamodelsvc", "CDPSvc", "ShellHWDetection", "clr_optimization_*", "OneSyncSvc_*",
    "CDPUserSvc_*", "WpnUserService_*", "Net Driver HPZ12", "Pml Driver HPZ12",
]
"""Automatic services that stop on their own when they have nothing to do (updaters, licensing, per-user
services, HP printer helpers): globs on the service name, any case."""

DEFAULT_IGNORED_EVENTS = ["Microsoft-Windows-DistributedCOM/10016"]
"""``Provider/Id`` globs of harmless recurring errors (Microsoft documents DCOM 10016 as safe to ignore)."""



def _state_word(state: str) -> str:
    """Return Win32_Service.State (a fixed English value in every language) in the reader's words."""
    return {"Stopped": _("stopped"), "Start Pending": _("starting"), "Stop Pending": _("stopping"),
            "Paused": _("paused"), "Pause Pending": _("pausing"), "Continue Pending": _("resuming"),
            "Unknown": _("in an unknown state")}.get(state, state)

# --------------------------------------------------------------------------- PowerShell bodies

_STOP = "$ErrorActionPreference='Stop'\n"

DISK_PS = _STOP + r"""ConvertTo-Json -Compress -InputObject @(Get-CimInstance Win32_LogicalDisk -Filter 'DriveType=3' |
 ForEach-Object { [pscustomobject]@{id=$_.DeviceID; label=$_.VolumeName; fs=$_.FileSystem; size=[long]$_.Size;
 free=[long]$_.FreeSpace} })"""

SERVICES_PS = _STOP + r"""$all=@(Get-CimInstance Win32_Service -Filter "StartMode='Auto'")
$k='HKLM:\SYSTEM\CurrentControlSet\Services\'
ConvertTo-Json -Compress -Depth 4 -InputObject @{auto=$all.Count; stopped=@($all | Where-Object State -ne 'Running' |
 ForEach-Object { [pscustomobject]@{name=$_.Name; display=$_.DisplayName; state=$_.State; code=$_.ExitCode;
 delayed=1 -eq (Get-ItemProperty -LiteralPath ($k+$_.Name) -ErrorAction SilentlyContinue).DelayedAutostart;
 trigger=Test-Path -LiteralPath ($k+$_.Name+'\TriggerInfo')} })}"""

REBOOT_PS = _STOP + r"""$c='HKLM:\SYSTEM\CurrentControlSet\'; $v='HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\'
function p($k) { Get-ItemProperty ($c+$k) -ErrorAction SilentlyContinue }
ConvertTo-Json -Compress -InputObject @{cbs=Test-Path ($v+'Component Based Servicing\RebootPending');
 wu=Test-Path ($v+'WindowsUpdate\Auto Update\RebootRequired');
 files=@((p 'Control\Session Manager').PendingFileRenameOperations | Where-Object { $_ }).Count;
 active=(p 'Control\ComputerName\ActiveComputerName').ComputerName;
 name=(p 'Control\ComputerName\ComputerName').ComputerName;
 join=Test-Path ($c+'Services\Netlogon\JoinDomain')}"""

UPDATES_PS = _STOP + r"""$x='(?i)\b(""" + "|".join(DEFINITION_KBS) + r""")\b'; $h=@(); $src='wua'
try { $q=(New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher(); $t=$q.GetTotalHistoryCount()
 if ($t) { $h=@($q.QueryHistory(0,[Math]::Min($t,500)) |
  Where-Object { $_.Operation -eq 1 -and $_.ResultCode -in 2,3 -and $_.Title -notmatch $x } |
  ForEach-Object { [pscustomobject]@{date=[DateTime]::SpecifyKind($_.Date,'Utc').ToString('o'); title=$_.Title} }) }
} catch { $src='hotfix' }
if (-not $h.Count) { $src='hotfix'; $h=@(Get-HotFix | Where-Object InstalledOn | ForEach-Object {
 [pscustomobject]@{date=$_.InstalledOn.ToUniversalTime().ToString('o'); title=$_.HotFixID} }) }
ConvertTo-Json -Compress -Depth 4 -InputObject @{source=$src; now=[DateTime]::UtcNow.ToString('o');
 installs=@($h | Sort-Object date -Descending | Select-Object -First 5)}"""

DEFENDER_PS = _STOP + r"""if (-not (Get-Command Get-MpComputerStatus -ErrorAction SilentlyContinue)) {
 '{"state":"absent"}'; return }
try { $m=Get-MpComputerStatus } catch {
 ConvertTo-Json -Compress -InputObject @{state='error'; error="$($_.Exception.Message)"}; return }
$u=$m.AntivirusSignatureLastUpdated
ConvertTo-Json -Compress -InputObject @{state='ok'; av=[bool]$m.AntivirusEnabled;
 realtime=[bool]$m.RealTimeProtectionEnabled; age=$m.AntivirusSignatureAge; mode="$($m.AMRunningMode)";
 updated=$(if ($u) { $u.ToUniversalTime().ToString('o') }); now=[DateTime]::UtcNow.ToString('o')}"""

EVENTS_PS = _STOP + rf"""$s=(Get-Date).AddHours(-{EVENT_HOURS})
try {{ $e=@(Get-WinEvent -FilterHashtable @{{LogName='System','Application'; Level=1,2; StartTime=$s}} `
 -MaxEvents {EVENT_MAX}) }}
catch {{ if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') {{ throw }}; $e=@() }}
ConvertTo-Json -Compress -Depth 4 -InputObject @{{since=$s.ToUniversalTime().ToString('o'); total=$e.Count;
 max={EVENT_MAX}; groups=@($e | Group-Object 'LogName','ProviderName','Id','Level' | ForEach-Object {{ $f=$_.Group[0]
 $t="$($f.Message)" -replace '\s+',' '
 [pscustomobject]@{{log=$f.LogName; provider=$f.ProviderName; id=$f.Id; level=[int]$f.Level; count=$_.Count;
 last=$f.TimeCreated.ToUniversalTime().ToString('o'); message=$t.Substring(0,[Math]::Min(300,$t.Length))}} }})}}"""

FIREWALL_PS = _STOP + r"""if (-not (Get-Command Get-NetFirewallProfile -ErrorAction SilentlyContinue)) {
 '{"state":"absent"}'; return }
ConvertTo-Json -Compress -InputObject @(Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {
 [pscustomobject]@{name="$($_.Name)"; enabled="$($_.Enabled)"; inbound="$($_.DefaultInboundAction)"} })"""
# "$($_.Enabled)" is the enum's name (True, False, NotConfigured): a code identifier, the same in every language.


# --------------------------------------------------------------------------- reading the facts


class _Unreadable(ValueError):
    """The host's answer is not the JSON the body prints."""


def _shown(text: object, limit: int = MESSAGE_SHOWN) -> str:
    """Return a localized text for display only: one line, at most ``limit`` characters."""
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _parse(output: str) -> Any:
    """Return the JSON a body printed (lines joined first: the JSON itself holds no raw line break)."""
    text = "".join(output.splitlines()).strip()
    if not text:
        raise _Unreadable(_("the host printed nothing"))
    try:
        return json.loads(text)
    except ValueError:
        raise _Unreadable(_("not JSON: {start}").format(start=_shown(text, 80))) from None


def _items(value: Any) -> list[dict[str, Any]]:
    """Return a JSON list of objects, also from the shapes Windows PowerShell 5.1 sometimes prints.

    None → [], one object → [it], ``{"value": [...], "Count": n}`` (an array wrapped by the type
    system) → its list. Raises _Unreadable for anything else.
    """
    if value is None:
        return []
    if isinstance(value, dict):
        if isinstance(value.get("value"), list) and "Count" in value:
            value = value["value"]
        else:
            return [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Unreadable(_("expected a list of objects"))
    return value


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Unreadable(_("expected an object"))
    return value


def _when(value: Any) -> datetime | None:
    """Return an ISO 8601 date (``o`` format, 7 decimals and ``Z``) as an aware datetime, or None."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _now(data: dict[str, Any]) -> datetime:
    """Return the host's own "now" when it sent one (ages as Windows sees them), else this machine's."""
    return _when(data.get("now")) or datetime.now(UTC)


def _on(value: Any) -> bool | None:
    """Return True/False for a JSON boolean, 1/0 or an enum name ("True", "False"); None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {1: True, 0: False}.get(value)
    return {"true": True, "false": False}.get(str(value).strip().lower())


def _worst(*severities: Severity) -> Severity:
    return max(severities, key=lambda s: s.rank)


def _patterns(thresholds: dict[str, Any], *keys: str) -> list[str]:
    """Return the globs under ``keys`` (a single string, as a person may write it in YAML, counts as one)."""
    out: list[str] = []
    for key in keys:
        value = thresholds.get(key) or []
        out += [value] if isinstance(value, str) else [str(v) for v in value]
    return out


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name.lower(), p.lower()) for p in patterns)


def _na(check: Check, facts: Facts, why: str) -> list[Finding]:
    return [check.finding(facts, Severity.INFO, _("not applicable: {why}").format(why=why))]


Evaluator = Callable[[Check, Facts, Any], list[Finding]]


def _evaluator(read: Evaluator) -> Callable[[Check, Facts], list[Finding]]:
    """Return an ``evaluate`` that handles a failed section and unreadable output, then calls ``read``."""

    def evaluate(check: Check, facts: Facts) -> list[Finding]:
        if facts.rc != 0:
            return [check.finding(facts, Severity.UNKNOWN, _("the check failed on the host: {error}").format(
                error=_shown(facts.output) or _("no message")), evidence={"rc": facts.rc})]
        try:
            return read(check, facts, _parse(facts.output))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            return [check.finding(facts, Severity.UNKNOWN, _("could not read the host's answer ({error})").format(
                error=_shown(exc, 120)), evidence={"output": _shown(facts.output, 200)})]

    evaluate.__name__ = read.__name__
    evaluate.__doc__ = read.__doc__
    return evaluate


# --------------------------------------------------------------------------- evaluation


def _disk(check: Check, facts: Facts, data: Any) -> list[Finding]:
    """One finding per local fixed disk: percent used against the thresholds."""
    t = facts.thresholds
    out = []
    for disk in _items(data):
        size, free = int(disk.get("size") or 0), int(disk.get("free") or 0)
        if size <= 0:
            continue  # no media, or a volume Windows cannot measure
        name = str(disk.get("id") or "?")
        pct = -(-100 * (size - free) // size)  # rounded up, like df
        label = _shown(disk.get("label"), 40)
        out.append(check.finding(facts, level(pct, t["warning"], t["critical"]), _(
            "{disk}{label} is {pct}% full ({free} GB free of {size} GB; warning at {warn}%, critical at {crit}%)"
        ).format(disk=name, label=f" ({label})" if label else "", pct=pct, free=format_number(free / GIB, 1),
                 size=format_number(size / GIB, 1), warn=format_threshold(t["warning"]),
                 crit=format_threshold(t["critical"])), subject=name,
            evidence={"used_percent": pct, "free_bytes": free, "size_bytes": size,
                      "file_system": disk.get("fs"), "label": disk.get("label")}))
    return out or _na(check, facts, _("no local fixed disk reported"))


def _services(check: Check, facts: Facts, data: Any) -> list[Finding]:
    """One finding per automatic service that is not running and should be."""
    t = facts.thresholds
    data = _object(data)
    patterns = _patterns(t, "ignore", "also_ignore")
    total = int(data.get("auto") or 0)
    if not total:
        return _na(check, facts, _("no automatic service reported"))
    ignored, on_demand, out = [], [], []
    for svc in _items(data.get("stopped")):
        name = str(svc.get("name") or "?")
        code = int(svc.get("code") or 0)
        if _matches(name, patterns):
            ignored.append(name)
            continue
        if (svc.get("delayed") or svc.get("trigger")) and code in CLEAN_EXIT:
            on_demand.append(name)  # delayed/trigger start: Windows stops it when it has nothing to do
            continue
        state = str(svc.get("state") or "Unknown")
        display = _shown(svc.get("display"), 80) or name
        shown = display if display.lower() == name.lower() else f"{display} ({name})"
        word = _state_word(state)
        evidence = {"name": name, "display_name": svc.get("display"), "state": state, "exit_code": code,
                    "delayed_start": bool(svc.get("delayed")), "trigger_start": bool(svc.get("trigger"))}
        if state == "Start Pending":
            out.append(check.finding(facts, Severity.INFO, _("automatic service '{service}' is starting").format(
                service=shown), subject=name, evidence=evidence))
        elif code in CLEAN_EXIT:
            out.append(check.finding(facts, Severity.WARNING, _(
                "automatic service '{service}' is {state}: it should be running").format(service=shown, state=word),
                subject=name, evidence=evidence))
        else:
            out.append(check.finding(facts, Severity.CRITICAL, _(
                "automatic service '{service}' is {state} after an error (exit code {code}): it crashed or could "
                "not start").format(service=shown, state=word, code=code), subject=name, evidence=evidence))
    if not out:
        note = _(" ({n} stopped on purpose by Windows or ignored)").format(n=len(ignored) + len(on_demand)) \
            if ignored or on_demand else ""
        out.append(check.finding(facts, Severity.OK, _("all {n} automatic services that should run are running"
                                                       "{note}").format(n=total, note=note),
                                 evidence={"automatic": total, "ignored": ignored, "stopped_on_demand": on_demand}))
    return out


def _reboot(check: Check, facts: Facts, data: Any) -> list[Finding]:
    """Pending reboot from the standard registry markers."""
    data = _object(data)
    reasons = []
    if data.get("cbs"):
        reasons.append(_("Windows component updates"))
    if data.get("wu"):
        reasons.append(_("Windows Update"))
    active, name = str(data.get("active") or ""), str(data.get("name") or "")
    if active and name and active.lower() != name.lower():
        reasons.append(_("the computer name change from {old} to {new}").format(old=active, new=name))
    if data.get("join"):
        reasons.append(_("joining a domain"))
    files = int(data.get("files") or 0)
    evidence = {"component_servicing": bool(data.get("cbs")), "windows_update": bool(data.get("wu")),
                "pending_file_operations": files, "active_name": active or None, "new_name": name or None,
                "domain_join": bool(data.get("join"))}
    if reasons:
        return [check.finding(facts, Severity.WARNING, _("a reboot is needed to finish: {reasons}").format(
            reasons=", ".join(reasons)), evidence=evidence)]
    if files:
        severity = Severity.WARNING if facts.thresholds.get("file_renames_need_reboot") else Severity.INFO
        return [check.finding(facts, severity, _(
            "{n} file operation(s) wait for the next reboot (often a program's update); no Windows update "
            "waits for it").format(n=files), evidence=evidence)]
    return [check.finding(facts, Severity.OK, _("no reboot pending"), evidence=evidence)]


def _updates(check: Check, facts: Facts, data: Any) -> list[Finding]:
    """Days since the last successful update installation (definition updates left out)."""
    t = facts.thresholds
    data = _object(data)
    skip = [k.upper() for k in [*DEFINITION_KBS, *_patterns(t, "ignore_kbs")]]
    dated = []
    for entry in _items(data.get("installs")):
        when, title = _when(entry.get("date")), str(entry.get("title") or "")
        kbs = re.findall(r"KB\d+", title, re.I)
        if when is not None and not any(kb.upper() in skip for kb in kbs):
            dated.append((when, title))
    source = str(data.get("source") or "?")
    if not dated:
        return [check.finding(facts, Severity.UNKNOWN, _(
            "no installed update found in the Windows Update history nor in the list of installed fixes"),
            evidence={"source": source})]
    when, title = max(dated)
    days = max(0, (_now(data) - when).days)
    return [check.finding(facts, level(days, t["warning_days"], t["critical_days"]), _(
        "last update installed {days} day(s) ago, on {date} ({title}); warning after {warn} days, critical "
        "after {crit}").format(days=days, date=format_date(when), title=_shown(title, 120),
                               warn=t["warning_days"], crit=t["critical_days"]),
        evidence={"days": days, "installed": when.isoformat(), "title": title, "source": source})]


def _defender(check: Check, facts: Facts, data: Any) -> list[Finding]:
    """Microsoft Defender: protection on, real-time protection on, age of the virus definitions."""
    t = facts.thresholds
    data = _object(data)
    state = data.get("state")
    if state == "absent":
        return _na(check, facts, _("Microsoft Defender is not installed here (another antivirus may be in use: "
                                   "check it by hand)"))
    if state == "error":
        return [check.finding(facts, Severity.UNKNOWN, _("Microsoft Defender did not answer (it may be switched "
                                                         "off, or replaced by another antivirus): {error}").format(
            error=_shown(data.get("error")) or "?"))]
    if state != "ok":
        raise _Unreadable(_("unexpected state {state!r}").format(state=state))
    mode = str(data.get("mode") or "")
    if "passive" in mode.lower():
        return [check.finding(facts, Severity.INFO, _(
            "Microsoft Defender runs in passive mode: another antivirus is the main protection (check it by "
            "hand)"), evidence={"mode": mode})]
    av, realtime = _on(data.get("av")), _on(data.get("realtime"))
    if av is not True:
        protection = check.finding(facts, Severity.CRITICAL, _("the Microsoft Defender antivirus is switched off"),
                                   subject="protection", evidence={"antivirus": av, "realtime": realtime})
    elif realtime is not True:
        protection = check.finding(facts, Severity.CRITICAL, _(
            "Microsoft Defender's real-time protection is off: files are not scanned when they are opened"),
            subject="protection", evidence={"antivirus": av, "realtime": realtime})
    else:
        protection = check.finding(facts, Severity.OK, _("Microsoft Defender and its real-time protection are on"),
                                   subject="protection", evidence={"antivirus": True, "realtime": True})
    updated = _when(data.get("updated"))
    age = data.get("age")
    if not isinstance(age, int | float) or isinstance(age, bool):
        if updated is None:
            return [protection, check.finding(facts, Severity.UNKNOWN, _(
                "the age of the virus definitions is unknown"), subject="signatures")]
        age = max(0, (_now(data) - updated).days)
    age = int(age)
    when = _(" (last updated {date})").format(date=format_date(updated)) if updated else ""
    text = _("the virus definitions were never updated") if age >= 10_000 else _(
        "the virus definitions are {days} day(s) old{when}; warning at {warn}, critical at {crit}").format(
        days=age, when=when, warn=t["signature_warning_days"], crit=t["signature_critical_days"])
    signatures = check.finding(facts, level(age, t["signature_warning_days"], t["signature_critical_days"]), text,
                               subject="signatures", evidence={"age_days": age, "updated": data.get("updated")})
    return [protection, signatures]


def _events(check: Check, facts: Facts, data: Any) -> list[Finding]:
    """Critical events and errors of the last day, counted by source and event id (messages only shown)."""
    t = facts.thresholds
    data = _object(data)
    groups, ignored = [], 0
    patterns = _patterns(t, "ignore", "also_ignore")
    for g in _items(data.get("groups")):
        provider, event_id, count = str(g.get("provider") or "?"), int(g.get("id") or 0), int(g.get("count") or 0)
        if _matches(f"{provider}/{event_id}", patterns):
            ignored += count
            continue
        groups.append({"log": g.get("log"), "provider": provider, "id": event_id, "level": int(g.get("level") or 0),
                       "count": count, "last": g.get("last"), "message": _shown(g.get("message"), 300)})
    criticals = sum(g["count"] for g in groups if g["level"] == 1)
    errors = sum(g["count"] for g in groups if g["level"] == 2)
    severity = _worst(level(criticals, t["critical_events_warning"], t["critical_events_critical"]),
                      level(errors, t["errors_warning"], t["errors_critical"]))
    groups.sort(key=lambda g: (g["level"], -g["count"], g["provider"]))
    total = int(data.get("total") or 0)
    ign = _(" ({n} ignored)").format(n=ignored) if ignored else ""
    evidence = {"critical_events": criticals, "errors": errors, "ignored": ignored, "groups": groups,
                "since": data.get("since"), "read": total}
    if not groups:
        return [check.finding(facts, Severity.OK, _(
            "no critical event and no error in the System and Application logs over the last {hours} hours{ign}"
        ).format(hours=EVENT_HOURS, ign=ign),
            subject="events", evidence=evidence)]
    top = "; ".join(_("{provider} {id} ({count}×): {message}").format(
        provider=g["provider"], id=g["id"], count=g["count"], message=_shown(g["message"], 120) or _("no message"))
        for g in groups[:3])
    more = _(" (only the latest {n} were read)").format(n=total) if total >= int(data.get("max") or EVENT_MAX) else ""
    return [check.finding(facts, severity, _(
        "{crit} critical event(s) and {err} error(s) in the System and Application logs over the last {hours} "
        "hours{more}{ign}; most frequent: {top}").format(crit=criticals, err=errors, hours=EVENT_HOURS, more=more,
                                                        ign=ign, top=top), subject="events", evidence=evidence)]


def _firewall(check: Check, facts: Facts, data: Any) -> list[Finding]:
    """One finding per firewall profile (Domain, Private, Public): on, and blocking by default."""
    if isinstance(data, dict) and data.get("state") == "absent":
        return _na(check, facts, _("this Windows has no firewall cmdlets (Get-NetFirewallProfile)"))
    profiles = _items(data)
    if not profiles:
        return [check.finding(facts, Severity.UNKNOWN, _("no firewall profile reported"))]
    names = {"Domain": _("domain"), "Private": _("private"), "Public": _("public")}
    out = []
    for p in profiles:
        name = str(p.get("name") or "?")
        shown = names.get(name, name)
        enabled = _on(p.get("enabled"))
        inbound = str(p.get("inbound") or "")
        evidence = {"enabled": p.get("enabled"), "default_inbound": inbound or None}
        if enabled is False:
            out.append(check.finding(facts, Severity.CRITICAL, _(
                "the firewall is off for {profile} networks").format(profile=shown), subject=name, evidence=evidence))
        elif enabled is None:
            out.append(check.finding(facts, Severity.WARNING, _(
                "the firewall state for {profile} networks is not set ({value})").format(
                profile=shown, value=_shown(p.get("enabled"), 30)), subject=name, evidence=evidence))
        elif inbound.lower() in ("allow", "2"):
            out.append(check.finding(facts, Severity.WARNING, _(
                "the firewall is on for {profile} networks but lets every incoming connection in by default").format(
                profile=shown), subject=name, evidence=evidence))
        else:
            out.append(check.finding(facts, Severity.OK, _("the firewall is on for {profile} networks").format(
                profile=shown), subject=name, evidence=evidence))
    return out


# --------------------------------------------------------------------------- the checks

register(Check(
    "windows.disk.free", _("Disk space (Windows)"),
    _("A full disk stops Windows updates, databases, shared folders and backups, and can damage files."),
    _("Free some space: run Disk Cleanup (cleanmgr, then 'Clean up system files'), empty the recycle bin, move old "
      "files elsewhere, or ask for a bigger disk. A tool such as WinDirStat or TreeSize shows what takes the space."),
    {"warning": 85, "critical": 95}, windows=DISK_PS, evaluate=_evaluator(_disk)))
register(Check(
    "windows.services.auto", _("Stopped automatic services"),
    _("A service set to start automatically is something the server needs (printing, a business program, the "
      "backup agent). When it is stopped, that part of the work is not done."),
    _("Open Services (services.msc), find the service, see why it stopped in the Event Viewer (Windows Logs > "
      "System), then start it. If it is meant to stay stopped, add its name under 'also_ignore' for this check in "
      "the playbook's audits.thresholds."),
    {"ignore": DEFAULT_IGNORED_SERVICES, "also_ignore": []}, windows=SERVICES_PS, evaluate=_evaluator(_services)))
register(Check(
    "windows.reboot.pending", _("Reboot pending (Windows)"),
    _("Windows updates only protect the server once it has restarted; until then it keeps running the old, "
      "vulnerable files, and later updates may refuse to install."),
    _("Plan a restart at a quiet time, warn the users, then restart the server (Start > Power > Restart, or "
      "'Restart-Computer')."),
    {"file_renames_need_reboot": False}, windows=REBOOT_PS, evaluate=_evaluator(_reboot)))
register(Check(
    "windows.updates.age", _("Time since the last Windows update"),
    _("Every month Microsoft fixes security holes that attackers quickly learn to use. A server that has not been "
      "updated for weeks is an easy way in."),
    _("Open Settings > Windows Update (or 'sconfig' on Server Core), install the updates and restart. If they fail, "
      "note the error code shown and look it up; also check that the update server (WSUS) or policy still reaches "
      "this machine."),
    {"warning_days": 35, "critical_days": 60, "ignore_kbs": []}, windows=UPDATES_PS, evaluate=_evaluator(_updates)))
register(Check(
    "windows.defender", _("Microsoft Defender antivirus"),
    _("The antivirus stops known malware, ransomware included. Switched off, or with old virus definitions, it "
      "lets them through."),
    _("Open Windows Security > Virus & threat protection, turn the protection on and click 'Check for updates' (or "
      "run 'Update-MpSignature'). If another antivirus is used on purpose, check that one instead and waive this "
      "check for the host."),
    {"signature_warning_days": 3, "signature_critical_days": 7}, windows=DEFENDER_PS,
    evaluate=_evaluator(_defender)))
register(Check(
    "windows.events.critical", _("Recent critical events (Windows)"),
    _("Critical events and errors in the System and Application logs are often the first sign of a failing disk, "
      "a crashing program or sudden restarts."),
    _("Open the Event Viewer (eventvwr.msc), Windows Logs > System and Application, filter on Critical and Error, "
      "and look up the source and event number shown here. A harmless one that keeps coming back can be added as "
      "'Source/Number' under 'also_ignore' for this check."),
    {"critical_events_warning": 1, "critical_events_critical": 5, "errors_warning": 10, "errors_critical": 100,
     "ignore": DEFAULT_IGNORED_EVENTS, "also_ignore": []}, windows=EVENTS_PS, evaluate=_evaluator(_events)))
register(Check(
    "windows.firewall", _("Windows firewall"),
    _("The firewall keeps unwanted connections away from the server. Switched off, every program listening on the "
      "network can be reached, which is how ransomware spreads from one machine to the next."),
    _("Switch it back on: Windows Defender Firewall > Turn Windows Defender Firewall on or off (or "
      "'Set-NetFirewallProfile -Profile Domain,Private,Public -Enabled True'). If a program then stops working, "
      "allow that program rather than switching the firewall off."),
    windows=FIREWALL_PS, evaluate=_evaluator(_firewall)))
