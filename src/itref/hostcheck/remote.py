"""On an open host, in one round trip: its system and version, who itref is there, its clock, which of the
needed programs are installed, and (Windows) whether itref is a local administrator. Then, only where a
routine step needs it, whether sudo works without a terminal."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itref.connectors.base import Command
from itref.core.findings import Finding, Severity
from itref.hostcheck.model import CLOCK_LIMIT, problem
from itref.hostcheck.needs import VEEAM_MODULE, Needs, Tool, platform
from itref.i18n import _

if TYPE_CHECKING:
    from itref.connectors.base import Connector, HostSpec

POSIX_PROBE = r"""[ -r /etc/os-release ] && . /etc/os-release
printf 'os=%s\n' "${PRETTY_NAME:-$(uname -sr)}"
printf 'user=%s\n' "$(id -un 2>/dev/null)"
printf 'now=%s\n' "$(date -u +%s.%N 2>/dev/null)"
for t in "$@"; do command -v "$t" >/dev/null 2>&1 && printf 'tool=%s\n' "$t"; done
exit 0
"""
"""``sh -c POSIX_PROBE itref TOOL...``: ``key=value`` lines; a ``tool=`` line for each program found on the PATH."""

WINDOWS_PROBE = r"""$ErrorActionPreference = 'Stop'
$os = Get-CimInstance Win32_OperatingSystem
$me = [Security.Principal.WindowsIdentity]::GetCurrent()
$admin = (New-Object Security.Principal.WindowsPrincipal $me).IsInRole(
 [Security.Principal.WindowsBuiltInRole]::Administrator)
$veeam = $false
if ($itrefVeeam) {
 $veeam = [bool](Get-Module -ListAvailable -Name 'Veeam.Backup.PowerShell')
 if (-not $veeam) { $veeam = [bool](Get-PSSnapin -Registered -Name 'VeeamPSSnapin' -ErrorAction SilentlyContinue) }
}
ConvertTo-Json -Compress -InputObject @{os = "$($os.Caption) $($os.Version)"; user = "$($me.Name)";
 admin = $admin; now = [DateTime]::UtcNow.ToString('o'); ps = "$($PSVersionTable.PSVersion)";
 wbadmin = [bool](Get-Command 'wbadmin.exe' -ErrorAction SilentlyContinue); veeam = $veeam}"""
"""One line of JSON: the system (caption and version), the account, whether it is a local administrator, the
host's UTC time, PowerShell's version, and whether wbadmin and the Veeam module (or snap-in) are there. Preceded
by :func:`windows_probe`'s first line: the module list is read only when a Veeam backup is checked there
(``Get-Module -ListAvailable`` reads every module folder: seconds on a real server)."""


def windows_probe(veeam: bool) -> str:
    """Return the Windows probe, looking for the Veeam module only when ``veeam``."""
    return f"$itrefVeeam = ${'true' if veeam else 'false'}\n" + WINDOWS_PROBE

WINDOWS_TOOLS = {"wbadmin": "wbadmin", VEEAM_MODULE: "veeam"}
"""Tool name asked for → the key of the probe's JSON that says whether it is there."""

PROBE_TIMEOUT = 30.0


@dataclass
class Probe:
    """What one host said about itself."""

    os: str | None = None
    account: str | None = None
    offset: float | None = None
    tools: set[str] = field(default_factory=set)
    admin: bool | None = None
    error: str | None = None
    """Why the probe could not be read (the host's own words), None when it was."""
    sudo_error: str | None = None
    """sudo's refusal, None when sudo worked or was not needed."""


def _posix_time(text: str) -> float | None:
    """Return ``date +%s.%N`` as seconds (a ``date`` without ``%N`` leaves letters: the whole seconds count)."""
    match = re.match(r"\s*(\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    return float(match.group(1) + ("." + match.group(2) if match.group(2) else ""))


def _windows_time(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def probe(conn: Connector, host: HostSpec, needs: Needs) -> Probe:
    """Return what ``host`` says about itself, in one command (plus one for sudo when a step needs it).

    Raises ConnectionFailed when the connection is lost (the executor then reports the host).
    """
    found = Probe()
    windows = platform(host) == "windows" and conn.shell_family == "powershell"
    before = time.time()
    if windows:
        veeam = any(VEEAM_MODULE in tool.names for tool in needs.tools)
        result = conn.run(Command.of(windows_probe(veeam), timeout=PROBE_TIMEOUT))
    else:
        result = conn.run(Command.of(["sh", "-c", POSIX_PROBE, "itref", *needs.probe_names()], timeout=PROBE_TIMEOUT))
    after = time.time()
    if result.rc != 0:
        found.error = (result.stderr.strip().splitlines() or [_("exit code {rc}").format(rc=result.rc)])[-1]
        return found
    if windows:
        try:
            data: dict[str, Any] = json.loads("".join(result.stdout.splitlines()).strip() or "{}")
        except ValueError:
            found.error = _("unreadable answer: {start}").format(start=result.stdout.strip()[:80])
            return found
        found.os, found.account = str(data.get("os") or "").strip() or None, data.get("user") or None
        found.admin = bool(data.get("admin"))
        found.tools = {name for name, key in WINDOWS_TOOLS.items() if data.get(key)}
        remote = _windows_time(str(data.get("now") or ""))
    else:
        values: dict[str, str] = {}
        for line in result.stdout.splitlines():
            key, _sep, value = line.partition("=")
            if key == "tool":
                found.tools.add(value)
            else:
                values[key] = value
        found.os, found.account = values.get("os") or None, values.get("user") or None
        remote = _posix_time(values.get("now", ""))
    if remote is not None and conn.kind != "local":
        found.offset = remote - (before + after) / 2
    if needs.sudo_for and not windows:
        sudo = conn.run(Command.of(["true"], sudo=True, timeout=PROBE_TIMEOUT))
        if sudo.rc != 0:  # sudo's own last word ("a password is required"), not a warning before it
            lines = [line.strip() for line in sudo.stderr.splitlines() if line.strip()]
            found.sudo_error = lines[-1] if lines else _("exit code {rc}").format(rc=sudo.rc)
    return found


PACKAGES = {"borg": "borgbackup", "systemctl": "systemd", "timedatectl": "systemd"}
"""Program → the package that brings it, where the names differ (same on Debian and Red Hat families)."""


def _install_line(os_name: str | None, tool: str) -> str:
    """Return how to install ``tool`` on that system, in one command where the system is known."""
    text = (os_name or "").lower()
    package = PACKAGES.get(tool, tool)
    if any(word in text for word in ("debian", "ubuntu", "mint", "raspbian")):
        return f"apt-get install {package}"
    if any(word in text for word in ("red hat", "rocky", "alma", "centos", "fedora")):
        return f"dnf install {package}"
    return _("install the package '{package}'").format(package=package)


def _missing_tool(host: HostSpec, os_name: str | None, tool: Tool) -> Finding:
    names = " / ".join(tool.names)
    on = f"{host.name} ({os_name})" if os_name else host.name
    if tool.names == (VEEAM_MODULE,):
        fix = _("Install the Veeam Backup & Replication console on {host} (it brings the Veeam.Backup.PowerShell "
                "module), or check this backup from the Veeam server itself (set 'host:' to it).").format(
            host=host.name)
    elif tool.names == ("wbadmin",):
        fix = _("Add the feature on {host}: Install-WindowsFeature Windows-Server-Backup (PowerShell as "
                "administrator).").format(host=host.name)
    elif tool.backup:
        fix = _("Install it on {host}: {command}; or set the backup's 'host:' to the machine that has it.").format(
            host=host.name, command=_install_line(os_name, tool.names[0]))
    else:
        fix = _("Install it ({command}), or skip that check for this entity (audits: skip: in its playbook).").format(
            command=_install_line(os_name, tool.names[0]))
    return problem("hosts.tool", Severity.CRITICAL if tool.backup else Severity.WARNING,
                   _("{on}: {tool} is not installed; needed by {purpose}").format(on=on, tool=names,
                                                                                    purpose=tool.purpose),
                   fix, host=host.name, entity=host.entity, subject=names, os=os_name)


def _sudo_fix(host: HostSpec, account: str | None, error: str) -> str:
    user = account or getattr(host.settings, "user", None) or _("itref's user")
    text = error.lower()
    if "not found" in text or "no such file" in text:
        return _("Install sudo on {host} (apt-get install sudo), then allow {user} to use it.").format(
            host=host.name, user=user)
    if "incorrect password" in text or "try again" in text:
        return _("The sudo_password the inventory points to for {host} is wrong: correct the secret it "
                 "refers to.").format(host=host.name)
    if "password is required" in text:
        return _("Give itref the password (sudo_password: {{file: ...}} on {host} in the inventory), or let {user} "
                 "run without one: '{user} ALL=(root) NOPASSWD: ALL' in /etc/sudoers.d/itref (visudo -f).").format(
            host=host.name, user=user)
    return _("Allow {user} to use sudo on {host}: 'usermod -aG sudo {user}' (Debian, Ubuntu) or a line in "
             "/etc/sudoers.d/itref (visudo -f /etc/sudoers.d/itref).").format(user=user, host=host.name)


def evaluate(host: HostSpec, needs: Needs, found: Probe) -> list[Finding]:
    """Return the problems in what ``host`` said: unreadable probe, clock, sudo, administrator, missing tools."""
    out: list[Finding] = []
    if found.error is not None:
        out.append(problem("hosts.probe", Severity.UNKNOWN, _(
            "{host}: itref could not read its system, clock and programs: {error}").format(
            host=host.name, error=found.error), _("Run 'itref run --limit {host} -- id' to see what the host "
                                                   "answers; its shell must be sh-compatible (Linux) or PowerShell "
                                                   "(Windows).").format(host=host.name),
            host=host.name, entity=host.entity))
        return out
    if found.offset is not None and abs(found.offset) > CLOCK_LIMIT:
        minutes = round(abs(found.offset) / 60)
        message = _("{host}: its clock is {minutes} minutes ahead of this machine's: Kerberos refuses logons past 5 "
                    "minutes, and backups and logs get the wrong dates") if found.offset > 0 else _(
            "{host}: its clock is {minutes} minutes behind this machine's: Kerberos refuses logons past 5 minutes, "
            "and backups and logs get the wrong dates")
        out.append(problem("hosts.clock", Severity.CRITICAL, message.format(host=host.name, minutes=minutes),
            _("Turn on time synchronisation on {host} ('timedatectl set-ntp true' on Linux; on Windows "
              "'w32tm /resync', a domain member takes the time from its DC), and check this machine's clock "
              "too.").format(host=host.name), host=host.name, entity=host.entity, offset=round(found.offset, 1)))
    if needs.sudo_for and found.sudo_error is not None:
        out.append(problem("hosts.sudo", Severity.CRITICAL, _(
            "{host}: sudo refuses {user} without a terminal ({error}), and {steps} run with sudo").format(
            host=host.name, user=found.account or "?", error=found.sudo_error[:160], steps=", ".join(needs.sudo_for)),
            _sudo_fix(host, found.account, found.sudo_error), host=host.name, entity=host.entity))
    if needs.admin_for and found.admin is False:
        out.append(problem("hosts.admin", Severity.CRITICAL, _(
            "{host}: {user} is not a local administrator, and {what} need it").format(
            host=host.name, user=found.account or "?", what=", ".join(needs.admin_for)),
            _("Add {user} to the local Administrators group of {host} (lusrmgr.msc, or 'Add-LocalGroupMember "
              "-Group Administrators -Member ACCOUNT' as administrator; a domain account can be added through a "
              "group policy).").format(user=found.account or getattr(host.settings, "user", None) or "?",
                                       host=host.name),
            host=host.name, entity=host.entity))
    for tool in needs.tools:
        if not any(name in found.tools for name in tool.names):
            out.append(_missing_tool(host, found.os, tool))
    return out
