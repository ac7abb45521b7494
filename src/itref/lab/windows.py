"""A French-language Windows file server, as the lab's (and the tests') WS-Management endpoint plays it.

The endpoint runs no PowerShell: these are the answers Windows PowerShell 5.1 gives to itref's audit script
(each check's JSON followed by its marker line) on an English or French Windows Server, healthy or not, and what
``wbadmin get versions`` prints.  Whether the PowerShell bodies produce exactly these facts on Windows needs a
real host; the lab and the tests say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from itref.audit.engine import host_script
from itref.audit.registry import select
from itref.connectors.winrm import EPILOGUE, PRELUDE
from itref.lab.peers.winrm_endpoint import CommandInfo, CommandReply, ShellInfo

GIB = 1024**3


def ps_date(when: datetime) -> str:
    """Return ``$date.ToUniversalTime().ToString('o')``: seven decimals and ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}0Z"


def ps_json(value: Any) -> str:
    """Return ``ConvertTo-Json -Compress`` as Windows PowerShell 5.1 writes it (JavaScriptSerializer escapes)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("'", "\\u0027"), ("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text


TEXT = {
    "en": {
        "system": "System", "data": "Data", "spooler": "Print Spooler", "w3svc": "World Wide Web Publishing Service",
        "gupdate": "Google Update Service (gupdate)", "maps": "Downloaded Maps Manager",
        "bits": "Background Intelligent Transfer Service", "cdp": "Connected Devices Platform User Service_4a6f1",
        "cu": "2024-05 Cumulative Update for Windows Server 2022 for x64-based Systems (KB5037782)",
        "net": "2024-05 Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for Microsoft server operating "
               "system version 21H2 for x64 (KB5037930)",
        "kernel": "The system has rebooted without cleanly shutting down first. This error could be caused if the "
                  "system stopped responding, crashed, or lost power unexpectedly.",
        "scm": "The Print Spooler service terminated unexpectedly.  It has done this 3 time(s).",
        "backup": "The backup operation that started at '2024-05-02T22:00:05.123000000Z' has failed with following "
                  "error code '0x80780119' (There is not enough disk space to create the volume shadow copy on the "
                  "storage location: 1.2 GB needed.). Please review the event details for a solution, and then "
                  "rerun the backup operation once the issue is resolved.",
        "dcom": "The application-specific permission settings do not grant Local Activation permission for the COM "
                "Server application with CLSID {2593F8B9-4EAF-457C-B68A-50F6B8EA6B54} to the user NT AUTHORITY\\"
                "SYSTEM SID (S-1-5-18) from address LocalHost (Using LRPC).",
        "denied": "Attempted to perform an unauthorized operation.",
    },
    "fr": {
        "system": "Système", "data": "Données", "spooler": "Spouleur d'impression",
        "w3svc": "Service de publication World Wide Web", "gupdate": "Service Google Update (gupdate)",
        "maps": "Gestionnaire des cartes téléchargées", "bits": "Service de transfert intelligent en arrière-plan",
        "cdp": "Service utilisateur de plateforme d'appareils connectés_4a6f1",
        "cu": "Mise à jour cumulative 2024-05 pour Windows Server 2019 (1809) pour les systèmes x64 (KB5037765)",
        "net": "Mise à jour cumulative 2024-05 pour .NET Framework 3.5, 4.7.2 et 4.8 pour Windows Server 2019 pour "
               "x64 (KB5037036)",
        "kernel": "Le système a redémarré sans s'arrêter correctement au préalable. Cette erreur peut survenir si le "
                  "système ne répond plus, se bloque ou subit une coupure d'alimentation inattendue.",
        "scm": "Le service Spouleur d'impression s'est arrêté de façon inattendue. Il s'est arrêté 3 fois.",
        "backup": "L'opération de sauvegarde qui a démarré à « 2024-05-02T22:00:05 » a échoué avec le code d'erreur "
                  "« 0x80780119 » (L'espace disque est insuffisant pour créer le cliché instantané du volume sur "
                  "l'emplacement de stockage : 1,2 Go nécessaires.). Consultez les détails de l'événement.",
        "dcom": "Les paramètres d'autorisation propres à l'application n'accordent pas l'autorisation Activation "
                "locale pour l'application serveur COM avec le CLSID {2593F8B9-4EAF-457C-B68A-50F6B8EA6B54} à "
                "l'utilisateur AUTORITE NT\\Système SID (S-1-5-18) depuis l'adresse LocalHost (avec LRPC).",
        "denied": "Tentative d'exécution d'une opération non autorisée.",
    },
}


@dataclass(frozen=True)
class Thrown:
    """A section whose body threw: the wrapper's catch prints the exception message (localized)."""

    message: str


def windows_facts(lang: str, healthy: bool, now: datetime | None = None) -> dict[str, str | Thrown]:
    """Return check id → what that section prints on a Windows Server in ``lang``, healthy or not."""
    NOW = now or datetime.now(UTC).replace(microsecond=0)
    t = TEXT[lang]
    c_free = 61 * GIB if healthy else 4 * GIB  # of 100 GiB: 39 % or 96 % used
    disks = [{"id": "C:", "label": t["system"], "fs": "NTFS", "size": 100 * GIB, "free": c_free},
             {"id": "D:", "label": t["data"], "fs": "NTFS", "size": 2048 * GIB, "free": 1024 * GIB}]
    on_purpose = [
        {"name": "gupdate", "display": t["gupdate"], "state": "Stopped", "code": 0, "delayed": True, "trigger": False},
        {"name": "MapsBroker", "display": t["maps"], "state": "Stopped", "code": 0, "delayed": True, "trigger": False},
        {"name": "sppsvc", "display": "Protection logicielle" if lang == "fr" else "Software Protection",
         "state": "Stopped", "code": 0, "delayed": True, "trigger": True},
        {"name": "BITS", "display": t["bits"], "state": "Stopped", "code": 0, "delayed": True, "trigger": False},
        {"name": "CDPUserSvc_4a6f1", "display": t["cdp"], "state": "Stopped", "code": 1077, "delayed": False,
         "trigger": False}]
    broken = [
        {"name": "Spooler", "display": t["spooler"], "state": "Stopped", "code": 1067, "delayed": False,
         "trigger": False},
        {"name": "W3SVC", "display": t["w3svc"], "state": "Stopped", "code": 0, "delayed": False, "trigger": False}]
    services = {"auto": 104, "stopped": on_purpose + ([] if healthy else broken)}
    reboot = {"cbs": not healthy, "wu": not healthy, "files": 0 if healthy else 4, "active": "SRV-FICHIERS",
              "name": "SRV-FICHIERS", "join": False}
    last_cu = NOW - timedelta(days=12 if healthy else 70, hours=3)
    updates = {"source": "wua", "now": ps_date(NOW), "installs": [
        {"date": ps_date(last_cu), "title": t["cu"]},
        {"date": ps_date(last_cu - timedelta(minutes=40)), "title": t["net"]},
        {"date": ps_date(last_cu - timedelta(days=30)), "title": t["cu"].replace("2024-05", "2024-04")}]}
    defender = {"state": "ok", "av": healthy, "realtime": healthy, "age": 0 if healthy else 9, "mode": "Normal",
                "updated": ps_date(NOW - timedelta(hours=5) if healthy else NOW - timedelta(days=9, hours=2)),
                "now": ps_date(NOW)}
    groups = [] if healthy else [
        {"log": "System", "provider": "Microsoft-Windows-Kernel-Power", "id": 41, "level": 1, "count": 1,
         "last": ps_date(NOW - timedelta(hours=6)), "message": t["kernel"]},
        {"log": "System", "provider": "Service Control Manager", "id": 7034, "level": 2, "count": 3,
         "last": ps_date(NOW - timedelta(hours=2)), "message": t["scm"]},
        {"log": "System", "provider": "Microsoft-Windows-DistributedCOM", "id": 10016, "level": 2, "count": 25,
         "last": ps_date(NOW - timedelta(minutes=9)), "message": t["dcom"]},
        {"log": "Application", "provider": "Microsoft-Windows-Backup", "id": 517, "level": 2, "count": 2,
         "last": ps_date(NOW - timedelta(hours=11)), "message": t["backup"]}]
    events = {"since": ps_date(NOW - timedelta(hours=24)), "total": sum(g["count"] for g in groups), "max": 200,
              "groups": groups}
    firewall = [{"name": "Domain", "enabled": "True", "inbound": "NotConfigured"},
                {"name": "Private", "enabled": "True", "inbound": "NotConfigured"},
                {"name": "Public", "enabled": "True" if healthy else "False", "inbound": "NotConfigured"}]
    return {"windows.disk.free": ps_json(disks), "windows.services.auto": ps_json(services),
            "windows.reboot.pending": ps_json(reboot), "windows.updates.age": ps_json(updates),
            "windows.defender": ps_json(defender), "windows.events.critical": ps_json(events),
            "windows.firewall": ps_json(firewall)}


@dataclass
class AuditScript:
    """FakeWindows reply for an audit script: finds every check's wrapped section in the script, in order, and
    prints what PowerShell would: the body's ``Out-String`` (the JSON and a line end), then the blank line and
    marker of the wrapper (``@@itref:ID:0@@``, or ``:1@@`` after the catch printed the exception message)."""

    outputs: dict[str, str | Thrown]
    problems: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)

    def __call__(self, info: CommandInfo, shell: ShellInfo) -> CommandReply:
        script = info.script or ""
        tail = "\n\n" + EPILOGUE
        if not (script.startswith(PRELUDE) and script.endswith(tail)):
            self.problems.append("not an itref script")
            return CommandReply(rc=99)
        body = script[len(PRELUDE):-len(tail)]
        located = []
        for check in select(["windows.*"]):
            assert check.windows is not None
            if check.windows not in body:
                continue
            section = host_script([check], "windows")  # try { & { BODY } | Out-String ... } catch {...} + marker
            start = body.find(section)
            if start < 0:
                self.problems.append(f"{check.id}: body present but not wrapped as one section")
                continue
            located.append((start, section, check.id))
        located.sort()
        position, printed = 0, []
        for start, section, check_id in located:
            if start != position:
                self.problems.append(f"unexpected text before {check_id}: {body[position:start]!r}")
            position = start + len(section)
            self.sections.append(check_id)
            output = self.outputs.get(check_id)
            if output is None:
                self.problems.append(f"no canned output for {check_id}")
                output = Thrown("no canned output")
            if isinstance(output, Thrown):
                printed.append(f"{output.message}\r\n\n@@itref:{check_id}:1@@\r\n")
            else:
                printed.append(f"{output}\r\n\n@@itref:{check_id}:0@@\r\n")
        if position != len(body):
            self.problems.append(f"unexpected text after the sections: {body[position:]!r}")
        return CommandReply(stdout="".join(printed))


def wbadmin_output(french: bool, when: datetime) -> str:
    """Return what ``wbadmin get versions`` prints on a French or English Windows Server with one version."""
    version = when.strftime("%m/%d/%Y-%H:%M")
    if french:
        return ("wbadmin 1.0 - Outil de sauvegarde en ligne de commande\r\n(C) Copyright Microsoft Corporation. "
                "Tous droits réservés.\r\n\r\nHeure de la sauvegarde : "
                f"{when.strftime('%d/%m/%Y %H:%M')}\r\nEmplacement de la sauvegarde : Volume nommé Sauvegarde(E:)\r\n"
                f"Identificateur de version : {version}\r\nPeut récupérer : Volume(s), Fichier(s), État du système\r\n")
    return ("wbadmin 1.0 - Backup command-line tool\r\n(C) Copyright Microsoft Corporation. All rights reserved."
            f"\r\n\r\nBackup time: {when.strftime('%m/%d/%Y %I:%M %p')}\r\nBackup location: Volume labeled "
            f"Backup(E:)\r\nVersion identifier: {version}\r\nCan recover: Volume(s), File(s), System State\r\n")


class LabWindows:
    """The lab's Windows file server behind the WS-Management endpoint (French-language Windows Server 2019).

    Answers itref's audit script (any selection of the ``windows.*`` checks, from :func:`windows_facts`: healthy
    except its updates, two months old), ``wbadmin get versions`` (last night's system image), ``itref hosts
    check``'s probe (:meth:`host_probe`) and ``hostname``.
    Anything else gets PowerShell's "not recognized" error.  It runs no PowerShell (see the module's docstring).
    """

    def __init__(self, computer_name: str = "SRV-FICHIERS") -> None:
        from itref.lab.peers.winrm_fixtures import FakeWindows

        self.fake = FakeWindows(computer_name)
        self.fake.replies = _AnyAudit(self)  # type: ignore[assignment]
        self.admin = True
        """Whether the account is a local administrator (what ``itref hosts check`` asks)."""
        self.clock_skew = timedelta(0)
        """How far this Windows' clock is ahead of the real time."""

    def host_probe(self) -> CommandReply:
        """Return what Windows Server 2019 (PowerShell 5.1) prints for ``itref hosts check``'s probe."""
        now = datetime.now(UTC) + self.clock_skew
        return CommandReply(stdout=ps_json({
            "os": "Microsoft Windows Server 2019 Standard 10.0.17763", "user": f"{self.fake.computer_name}\\itref",
            "admin": self.admin, "now": ps_date(now), "ps": "5.1.17763.5830", "wbadmin": True, "veeam": False})
            + "\r\n")

    def facts(self) -> dict[str, str | Thrown]:
        """Return what each Windows check's section prints now."""
        now = datetime.now(UTC).replace(microsecond=0)
        facts = windows_facts("fr", healthy=True, now=now)
        facts["windows.updates.age"] = windows_facts("fr", healthy=False, now=now)["windows.updates.age"]
        return facts

    def __call__(self, command: str, args: list[str], shell: ShellInfo) -> CommandReply:
        return self.fake(command, args, shell)


class _AnyAudit(dict):  # type: ignore[type-arg]
    """The reply table of :class:`LabWindows`: audit scripts and wbadmin are recognised, not looked up."""

    def __init__(self, lab: LabWindows) -> None:
        super().__init__()
        self.lab = lab

    def get(self, body: str, default: Any = None) -> Any:
        from itref.hostcheck.remote import WINDOWS_PROBE

        if body.endswith(WINDOWS_PROBE) and body.count("\n") == WINDOWS_PROBE.count("\n") + 1:
            return self.lab.host_probe()
        if "@@itref:" in body:
            return AuditScript(self.lab.facts())
        if body.strip() in ("& 'wbadmin' 'get' 'versions'",):
            last = datetime.now().replace(hour=1, minute=30, second=0, microsecond=0)
            if last > datetime.now():
                last -= timedelta(days=1)
            return CommandReply(stdout=wbadmin_output(True, last))
        return default
