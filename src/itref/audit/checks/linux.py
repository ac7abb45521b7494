"""Linux checks: disks and inodes, memory and swap, load, failed units, reboot, updates, time, uptime.

Each check's script prints plain facts; evaluation happens in itref, so the thresholds and the
wording stay in one place. A fact that cannot be read on a host (no systemd, no apt) gives an
INFO "not applicable" finding rather than a false alarm.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from itref.audit.base import Check, Facts, level
from itref.audit.registry import register
from itref.core.findings import Finding, Severity
from itref.core.humanize import ago
from itref.core.humanize import size as human_size
from itref.core.units import parse_duration
from itref.i18n import _, format_number, format_threshold

EXCLUDED_FS = "-x tmpfs -x devtmpfs -x squashfs -x overlay -x efivarfs"


def _na(check: Check, facts: Facts, why: str) -> list[Finding]:
    return [check.finding(facts, Severity.INFO, _("not applicable: {why}").format(why=why))]


def _df_rows(output: str, pct_column: int) -> Iterator[tuple[list[str], int]]:
    """Yield (columns, percent used) for each line of ``df -P`` output whose column ``pct_column`` is a percentage
    followed by the mount point; the header and unreadable lines are skipped."""
    for line in output.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= pct_column + 2 and parts[pct_column].endswith("%") and parts[pct_column][:-1].isdigit():
            yield parts, int(parts[pct_column][:-1])


def _disk(check: Check, facts: Facts) -> list[Finding]:
    t = facts.thresholds
    out = []
    for parts, pct in _df_rows(facts.output, 5):  # df -P -T -k: fs, type, size, used, avail, use%, mount
        fs_type, size_kb, avail_kb, mount = parts[1], int(parts[2]), int(parts[4]), parts[6]
        severity = level(pct, t["warning"], t["critical"])
        out.append(check.finding(facts, severity, _("{mount} is {pct}% full ({free} free of {size}; "
                                                    "warning at {warn}%, critical at {crit}%)").format(
            mount=mount, pct=pct, free=human_size(avail_kb * 1024), size=human_size(size_kb * 1024),
            warn=format_threshold(t["warning"]), crit=format_threshold(t["critical"])), subject=mount,
            evidence={"used_percent": pct, "type": fs_type, "available_kb": avail_kb, "size_kb": size_kb}))
    return out or _na(check, facts, _("no disk reported"))


def _inodes(check: Check, facts: Facts) -> list[Finding]:
    t = facts.thresholds
    out = []
    for parts, pct in _df_rows(facts.output, 4):  # df -P -i: fs, inodes, used, free, use%, mount
        mount = parts[5]
        out.append(check.finding(facts, level(pct, t["warning"], t["critical"]), _(
            "{mount}: {pct}% of its file entries (inodes) are used").format(mount=mount, pct=pct), subject=mount,
            evidence={"inodes_used_percent": pct}))
    return out or _na(check, facts, _("no file system reports inodes"))


def _meminfo(text: str) -> dict[str, int]:
    values = {}
    for line in text.splitlines():
        key, _sep, rest = line.partition(":")
        if rest.strip():
            values[key.strip()] = int(rest.split()[0])
    return values


def _memory(check: Check, facts: Facts) -> list[Finding]:
    t = facts.thresholds
    m = _meminfo(facts.output)
    total, avail = m.get("MemTotal", 0), m.get("MemAvailable", 0)
    if not total:
        return _na(check, facts, _("/proc/meminfo unreadable"))
    used = round(100 * (total - avail) / total)
    findings = [check.finding(facts, level(used, t["warning"], t["critical"]), _(
        "memory {pct}% used ({avail} MB available of {total} MB)").format(pct=used, avail=avail // 1024,
                                                                        total=total // 1024),
        subject="memory", evidence={"used_percent": used})]
    swap_total, swap_free = m.get("SwapTotal", 0), m.get("SwapFree", 0)
    if swap_total:
        swap = round(100 * (swap_total - swap_free) / swap_total)
        findings.append(check.finding(facts, level(swap, t["swap_warning"], t["swap_critical"]), _(
            "swap {pct}% used").format(pct=swap), subject="swap", evidence={"swap_used_percent": swap}))
    return findings


def _load(check: Check, facts: Facts) -> list[Finding]:
    t = facts.thresholds
    try:
        loadavg, cores = facts.output.split("\n")[:2]
        five = float(loadavg.split()[1])
        n = max(1, int(cores.strip()))
    except (ValueError, IndexError):
        return _na(check, facts, _("load unreadable"))
    per_core = five / n
    return [check.finding(facts, level(per_core, t["warning"], t["critical"]), _(
        "load {load} over 5 minutes for {n} core(s) ({per} per core; warning at {warn})").format(
        load=format_number(five, 2), n=n, per=format_number(per_core, 2), warn=format_threshold(t["warning"])),
        evidence={"load5": five, "cores": n})]


def _units(check: Check, facts: Facts) -> list[Finding]:
    if facts.rc != 0:
        return _na(check, facts, _("systemd is not running on this host"))
    units = [line.split()[0] for line in facts.output.splitlines() if line.strip()]
    if not units:
        return [check.finding(facts, Severity.OK, _("no failed service"))]
    return [check.finding(facts, Severity.CRITICAL, _("{n} service(s) failed: {units}").format(
        n=len(units), units=", ".join(units)), subject=",".join(units), evidence={"units": units})]


def _reboot(check: Check, facts: Facts) -> list[Finding]:
    if facts.rc != 0:
        return [check.finding(facts, Severity.OK, _("no reboot pending"))]
    packages = [p for p in facts.output.split() if p]
    return [check.finding(facts, Severity.WARNING, _("a reboot is needed to finish updates{pkgs}").format(
        pkgs=(" (" + ", ".join(packages[:5]) + ")") if packages else ""), evidence={"packages": packages})]


UPDATES_CACHE_FORMAT = "itref-updates-1"
"""First word of the one line kept in ``${XDG_CACHE_HOME:-$HOME/.cache}/itref/linux-updates`` on a host."""


def _max_age(thresholds: dict[str, Any]) -> int:
    """Return linux.updates' ``max_age`` in seconds (a duration: ``24h``, ``90m``; a bare number is seconds).

    Raises ValueError with a readable message when it is not a duration."""
    return max(0, int(parse_duration(thresholds.get("max_age", 0)).total_seconds()))


def _updates_vars(thresholds: dict[str, Any]) -> dict[str, str]:
    """Return the host script's settings of linux.updates: how long apt's answer may be reused (0: never)."""
    try:
        return {"itref_max_age": str(_max_age(thresholds))}
    except ValueError:
        return {"itref_max_age": "0"}  # ask apt; evaluation then reports the bad setting


def _updates(check: Check, facts: Facts) -> list[Finding]:
    if facts.rc == 3:
        return _na(check, facts, _("neither apt nor dnf on this host"))
    if facts.rc != 0:
        return [check.finding(facts, Severity.UNKNOWN, _("could not list pending updates"))]
    _max_age(facts.thresholds)  # a max_age that is not a duration is reported (as unreadable facts)
    counts = dict(line.split("=", 1) for line in facts.output.splitlines() if "=" in line)
    total, security = int(counts.get("total", 0)), int(counts.get("security", 0))
    evidence: dict[str, Any] = {"security": security, "total": total}
    reused = counts.get("answer") == "reused"
    if counts.get("answer") in ("apt", "reused") and counts.get("at", "").isdigit() and counts.get("now", "").isdigit():
        at, now = int(counts["at"]), int(counts["now"])
        evidence.update(answer=counts["answer"], counted_at=datetime.fromtimestamp(at, UTC).isoformat())
        if reused:
            evidence["age_seconds"] = now - at
    if security:
        severity = Severity.WARNING
        message = _("{n} security update(s) waiting ({total} updates in all)").format(n=security, total=total)
    else:
        severity = Severity.INFO if total else Severity.OK
        message = _("{total} update(s) waiting, none for security").format(total=total)
    if reused:
        message = _("{message}; counted by apt {ago} and reused: the package lists, the installed packages and "
                    "apt's settings have not changed since").format(
            message=message, ago=ago(timedelta(seconds=evidence.get("age_seconds", 0))))
    return [check.finding(facts, severity, message, evidence=evidence)]


def _time(check: Check, facts: Facts) -> list[Finding]:
    answer = facts.output.strip().lower()
    if facts.rc != 0 or answer not in ("yes", "no"):
        return _na(check, facts, _("timedatectl is not available"))
    if answer == "yes":
        return [check.finding(facts, Severity.OK, _("the clock is synchronised"))]
    return [check.finding(facts, Severity.WARNING, _("the clock is not synchronised with a time server"))]


def _uptime(check: Check, facts: Facts) -> list[Finding]:
    try:
        days = int(float(facts.output.split()[0]) // 86400)
    except (ValueError, IndexError):
        return _na(check, facts, _("uptime unreadable"))
    severity = Severity.WARNING if days >= facts.thresholds["warning_days"] else Severity.OK
    return [check.finding(facts, severity, _("up for {days} day(s)").format(days=days), evidence={"days": days})]


# linux.updates' script. ``apt-get -s upgrade`` costs about a second of CPU; its answer only changes with the
# package lists, the installed packages or apt's settings, so it is kept on the host, in the user's own cache
# folder (``${XDG_CACHE_HOME:-$HOME/.cache}/itref``, mode 0700, owned by the user, never a symlink: no other user
# can plant or swap anything there), and reused for at most ``$itref_max_age`` seconds while none of what apt
# reads has changed (ctime newer than the moment apt was asked: ctime cannot be set back, unlike the mtime apt
# gives downloaded lists). A cache file that is not the user's, unreadable or not exactly one valid line is
# ignored and replaced. The output says whether apt was asked or its answer reused, and when it was counted.
UPDATES_SCRIPT = r"""if command -v apt-get >/dev/null 2>&1; then
  now=$(date +%s); d=; c=
  case "${XDG_CACHE_HOME:-}" in
    /?*) d="$XDG_CACHE_HOME/itref" ;;
    *) case "${HOME:-}" in /?*) d="$HOME/.cache/itref" ;; esac ;;
  esac
  if [ -n "$d" ] && (umask 077; mkdir -p "$d") 2>/dev/null && [ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ] && \
     chmod 700 "$d" 2>/dev/null; then c="$d/linux-updates"; fi
  w=; for p in /var/lib/dpkg/status /var/lib/dpkg/updates /var/lib/apt/lists /var/lib/apt/extended_states /etc/apt; do
    [ -e "$p" ] && w="$w $p"; done
  if [ -n "$c" ] && [ "${itref_max_age:-0}" -gt 0 ] && [ -f "$c" ] && [ ! -L "$c" ] && [ -O "$c" ] && \
     at=$(stat -c %Y "$c" 2>/dev/null) && [ "$now" -ge "$at" ] && [ $((now - at)) -lt "$itref_max_age" ] && \
     { IFS= read -r r < "$c"; } 2>/dev/null && \
     printf '%s\n' "$r" | grep -qxE '@FORMAT@ total=[0-9]{1,9} security=[0-9]{1,9}' && \
     n=$(find $w -name partial -prune -o -cnewer "$c" -print -quit 2>/dev/null) && [ -z "$n" ]; then
    set -- $r; printf '%s\n%s\nanswer=reused\nat=%s\nnow=%s\n' "$2" "$3" "$at" "$now"; exit 0
  fi
  t=; [ -n "$c" ] && t=$(mktemp "$d/.linux-updates.XXXXXX" 2>/dev/null)  # its time: before apt reads anything
  s=$(LC_ALL=C apt-get -s -o Debug::NoLocking=1 upgrade 2>/dev/null) || { [ -n "$t" ] && rm -f "$t"; exit 1; }
  total=$(printf '%s\n' "$s" | grep -c '^Inst ')
  security=$(printf '%s\n' "$s" | grep '^Inst ' | grep -ci 'security')
  printf 'total=%s\nsecurity=%s\nanswer=apt\nat=%s\nnow=%s\n' "$total" "$security" "$now" "$now"
  if [ -n "$t" ]; then
    umask 077
    { printf '@FORMAT@ total=%s security=%s\n' "$total" "$security" > "$t.w" && touch -r "$t" "$t.w" && \
      mv -f "$t.w" "$c"; rm -f "$t" "$t.w"
      find "$d" -maxdepth 1 -name '.linux-updates.*' -mmin +60 -delete; } 2>/dev/null
  fi
elif command -v dnf >/dev/null 2>&1; then
  echo "total=$(dnf -q check-update 2>/dev/null | grep -c '^[[:alnum:]]')"
  echo "security=$(dnf -q check-update --security 2>/dev/null | grep -c '^[[:alnum:]]')"
else exit 3; fi""".replace("@FORMAT@", UPDATES_CACHE_FORMAT)


register(Check(
    "linux.disk.free", _("Disk space"), _("A full disk stops databases, mail and backups, and can corrupt files."),
    _("Delete or move old files (logs, dumps, downloads) or enlarge the disk; 'du -xh --max-depth=1 /mount | "
      "sort -h' shows what takes the space."),
    {"warning": 80, "critical": 90}, linux=f"df -P -T -k {EXCLUDED_FS}", evaluate=_disk))
register(Check(
    "linux.disk.inodes", _("File entries (inodes)"),
    _("When a disk runs out of file entries, nothing new can be written even with free space left."),
    _("Find folders with millions of small files (often a cache or mail queue) and clean them up."),
    {"warning": 80, "critical": 90}, linux=f"df -P -i {EXCLUDED_FS}", evaluate=_inodes))
register(Check(
    "linux.memory", _("Memory and swap"), _("A machine short of memory slows down, then kills programs."),
    _("Find the process using the memory (top, sorted by memory); restart it or add memory."),
    {"warning": 90, "critical": 97, "swap_warning": 50, "swap_critical": 80}, linux="cat /proc/meminfo",
    evaluate=_memory))
register(Check(
    "linux.load", _("Processor load"), _("A load far above the number of cores makes every service slow."),
    _("Look at the busiest processes (top) and at what changed recently."),
    {"warning": 1.5, "critical": 3.0}, linux="cat /proc/loadavg; nproc", evaluate=_load))
register(Check(
    "linux.systemd.failed", _("Failed services"), _("A failed service is something that should run and does not."),
    _("See why with 'systemctl status UNIT' and 'journalctl -u UNIT -b', fix, then 'systemctl restart UNIT'."),
    linux="systemctl list-units --state=failed --no-legend --plain 2>/dev/null", evaluate=_units))
register(Check(
    "linux.reboot.required", _("Reboot pending"), _("Security updates of the kernel or libraries only protect "
                                                   "after a reboot."),
    _("Plan a reboot at a quiet time and warn the users."),
    linux="[ -f /var/run/reboot-required ] && cat /var/run/reboot-required.pkgs 2>/dev/null", evaluate=_reboot))
register(Check(
    "linux.updates", _("Pending updates"), _("Each missing security update is a known way in."),
    _("Install them: 'apt-get update && apt-get upgrade' (or 'dnf upgrade'), then reboot if asked."),
    {"max_age": "24h"}, linux=UPDATES_SCRIPT, evaluate=_updates, script_vars=_updates_vars))
register(Check(
    "linux.time.sync", _("Clock synchronisation"), _("A wrong clock breaks Active Directory logons, certificates "
                                                    "and the order of logs."),
    _("Enable time synchronisation: 'timedatectl set-ntp true' (or configure chrony)."),
    linux="timedatectl show -p NTPSynchronized --value 2>/dev/null", evaluate=_time))
register(Check(
    "linux.uptime", _("Time since last reboot"), _("A machine never rebooted still runs old, vulnerable code."),
    _("Reboot during the next maintenance window."), {"warning_days": 180}, linux="cat /proc/uptime",
    evaluate=_uptime))
