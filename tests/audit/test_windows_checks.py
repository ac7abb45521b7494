"""The Windows check family: each evaluation on canned facts, and whole audits over the in-suite WinRM endpoint.

The endpoint runs no PowerShell. :class:`AuditScript` plays what Windows PowerShell 5.1 prints for the one
wrapped audit script (each section's JSON followed by its marker line) on an English and on a French Windows
Server, healthy or not. Whether the PowerShell bodies produce exactly these facts on Windows needs a real host.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from itref.audit.base import Check, Facts
from itref.audit.engine import host_script
from itref.audit.registry import select
from itref.config.project import HostSpec
from itref.connectors.winrm import MAX_COMMAND_LINE, POWERSHELL, encoded_arguments, wrap_script
from itref.core.findings import Finding, Severity
from itref.core.status import ExitStatus
from itref.lab.peers.winrm_endpoint import WinRMEndpoint
from itref.lab.peers.winrm_fixtures import FakeWindows
from itref.lab.windows import GIB, TEXT, AuditScript, Thrown, ps_date, ps_json, windows_facts

pytestmark = pytest.mark.peer

IDS = ["windows.defender", "windows.disk.free", "windows.events.critical", "windows.firewall",
       "windows.reboot.pending", "windows.services.auto", "windows.updates.age"]
HOST = HostSpec("srv-fichiers", "commune", "winrm", "127.0.0.1", ("windows",), None)
NOW = datetime.now(UTC).replace(microsecond=0)


def checks() -> dict[str, Check]:
    return {c.id: c for c in select(["windows.*"])}


def evaluate(check_id: str, output: str, rc: int = 0, **overrides: Any) -> list[Finding]:
    check = checks()[check_id]
    assert check.evaluate is not None
    return check.evaluate(check, Facts(HOST, output, rc, {**check.thresholds, **overrides}))


def one(findings: list[Finding], subject: str | None = None) -> Finding:
    chosen = [f for f in findings if subject is None or f.subject == subject]
    assert len(chosen) == 1, findings
    return chosen[0]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[WinRMEndpoint]:
    with WinRMEndpoint(users={"itref": "S3cret!"}, domain="LAB", default_codepage=850) as ep:
        yield ep


@pytest.fixture
def windows(endpoint: WinRMEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWindows]:
    endpoint.reset()
    fake = FakeWindows("SRV-FICHIERS")
    endpoint.handler = fake
    monkeypatch.setenv("WINRM_PW", "S3cret!")
    yield fake
    assert endpoint.errors == []


def write_project(tmp_path: Path, endpoint: WinRMEndpoint, playbook: dict | None = None) -> str:
    host = {"connection": "winrm", "address": "127.0.0.1", "port": endpoint.port, "scheme": "http",
            "transport": "basic", "user": "itref", "password": {"env": "WINRM_PW"}, "connect_timeout": 5}
    inv = {"version": 1, "organisation": "Commune de test",
           "entities": {"commune": {"title": "Administration communale", "hosts": {"srv-fichiers": host}}}}
    (tmp_path / "playbooks").mkdir(parents=True, exist_ok=True)
    (tmp_path / "playbooks" / "commune.yaml").write_text(json.dumps({"entity": "commune", **(playbook or {})}))
    (tmp_path / "inventory.yaml").write_text(json.dumps(inv))
    return str(tmp_path / "inventory.yaml")


def run_audit(cli, windows: FakeWindows, endpoint: WinRMEndpoint, tmp_path: Path,
              outputs: dict[str, str | Thrown], playbook: dict | None = None) -> tuple[Any, dict, AuditScript]:
    """Run ``itref -f json audit --checks 'windows.*'`` against the endpoint; return result, report, handler."""
    script = AuditScript(outputs)
    windows.replies[host_script(select(["windows.*"]), "windows")] = script
    inv = write_project(tmp_path, endpoint, playbook)
    result = cli("-i", inv, "-f", "json", "audit", "--checks", "windows.*")
    assert script.problems == []
    assert len(windows.bodies) == 1, "the audit must send exactly one script"
    assert script.sections == IDS, windows.bodies[0][:300]
    assert endpoint.actions().count("Command") == 1  # one round trip: every check in one script
    assert endpoint.shells_opened == 1
    return result, json.loads(result.out), script


def by_key(report: dict) -> dict[tuple[str, str | None], dict]:
    found = {(f["check"], f["subject"]): f for f in report["findings"] if f["check"].startswith("windows.")}
    assert len(found) == len([f for f in report["findings"] if f["check"].startswith("windows.")])
    return found


# --------------------------------------------------------------------------- whole audits over WinRM


@pytest.mark.parametrize("lang", ["en", "fr"], ids=["english-windows", "french-windows"])
def test_unhealthy_windows_server(windows, endpoint, tmp_path, cli, lang: str) -> None:
    result, report, _script = run_audit(cli, windows, endpoint, tmp_path, windows_facts(lang, healthy=False))
    t = TEXT[lang]
    found = by_key(report)
    assert result.rc == ExitStatus.CHECK_CRITICAL, result.all
    reachable = next(f for f in report["findings"] if f["check"] == "audit.host.reachable")
    assert reachable["severity"] == "ok" and reachable["host"] == "srv-fichiers"
    every = checks()

    disk = found[("windows.disk.free", "C:")]
    assert disk["severity"] == "critical" and disk["host"] == "srv-fichiers" and disk["entity"] == "commune"
    assert "96% full" in disk["message"] and "4.0 GB free of 100.0 GB" in disk["message"]
    assert f"({t['system']})" in disk["message"]
    assert disk["why"] == every["windows.disk.free"].why and disk["fix"] == every["windows.disk.free"].fix
    assert disk["evidence"] == {"used_percent": 96, "free_bytes": 4 * GIB, "size_bytes": 100 * GIB,
                                "file_system": "NTFS", "label": t["system"]}
    assert found[("windows.disk.free", "D:")]["severity"] == "ok"

    spooler = found[("windows.services.auto", "Spooler")]
    assert spooler["severity"] == "critical" and f"'{t['spooler']} (Spooler)'" in spooler["message"]
    assert "exit code 1067" in spooler["message"] and spooler["why"] and spooler["fix"]
    w3svc = found[("windows.services.auto", "W3SVC")]
    assert w3svc["severity"] == "warning" and t["w3svc"] in w3svc["message"]
    assert {s for c, s in found if c == "windows.services.auto"} == {"Spooler", "W3SVC"}  # the rest stopped on purpose

    reboot = found[("windows.reboot.pending", None)]
    assert reboot["severity"] == "warning" and "Windows Update" in reboot["message"]
    assert reboot["evidence"]["pending_file_operations"] == 4

    updates = found[("windows.updates.age", None)]
    assert updates["severity"] == "critical" and updates["evidence"]["days"] == 70
    assert "70 day(s) ago" in updates["message"] and t["cu"] in updates["message"]

    assert found[("windows.defender", "protection")]["severity"] == "critical"
    assert "switched off" in found[("windows.defender", "protection")]["message"]
    signatures = found[("windows.defender", "signatures")]
    assert signatures["severity"] == "critical" and signatures["evidence"]["age_days"] == 9

    firewall = {s: f["severity"] for (c, s), f in found.items() if c == "windows.firewall"}
    assert firewall == {"Domain": "ok", "Private": "ok", "Public": "critical"}
    assert "off for public networks" in found[("windows.firewall", "Public")]["message"]

    events = found[("windows.events.critical", "events")]
    assert events["severity"] == "warning"
    assert (events["evidence"]["critical_events"], events["evidence"]["errors"], events["evidence"]["ignored"]) == (
        1, 5, 25)  # DCOM 10016 is ignored by default
    assert "1 critical event(s) and 5 error(s)" in events["message"] and "(25 ignored)" in events["message"]
    assert "Service Control Manager 7034 (3×)" in events["message"]
    assert " ".join(t["scm"].split())[:60] in events["message"]  # shown on one line, accents included
    if lang == "fr":
        assert "Le service Spouleur d'impression s'est arrêté de façon inattendue." in result.out  # not \u00e9
        assert "Spouleur d'impression" in spooler["message"] and "Données" in result.out


@pytest.mark.parametrize("lang", ["en", "fr"], ids=["english-windows", "french-windows"])
def test_healthy_windows_server(windows, endpoint, tmp_path, cli, lang: str) -> None:
    result, report, _script = run_audit(cli, windows, endpoint, tmp_path, windows_facts(lang, healthy=True))
    found = by_key(report)
    assert result.rc == ExitStatus.SUCCESS, result.all
    assert {f["severity"] for f in found.values()} == {"ok"}, [f["message"] for f in found.values()]
    assert {c for c, _s in found} == set(IDS)
    services = found[("windows.services.auto", None)]
    assert "all 104 automatic services" in services["message"]
    assert set(services["evidence"]["ignored"]) == {"gupdate", "MapsBroker", "sppsvc", "CDPUserSvc_4a6f1"}
    assert services["evidence"]["stopped_on_demand"] == ["BITS"]
    assert found[("windows.updates.age", None)]["evidence"]["days"] == 12
    assert found[("windows.events.critical", "events")]["evidence"]["critical_events"] == 0


def test_english_and_french_windows_give_the_same_findings(windows, endpoint, tmp_path, cli) -> None:
    seen = {}
    now = datetime.now(UTC).replace(microsecond=0)  # one clock for both, or a second boundary between them differs
    for lang in ("en", "fr"):
        endpoint.reset()
        endpoint.handler = windows
        windows.bodies.clear()
        _result, report, _script = run_audit(cli, windows, endpoint, tmp_path / lang,
                                             windows_facts(lang, healthy=False, now=now))
        seen[lang] = {key: (f["severity"], {k: v for k, v in f["evidence"].items()
                                            if k not in ("label", "display_name", "title", "groups")})
                      for key, f in by_key(report).items()}
    assert seen["en"] == seen["fr"]


def test_a_section_that_throws_is_unknown_and_the_others_still_count(windows, endpoint, tmp_path, cli) -> None:
    outputs = windows_facts("fr", healthy=True)
    outputs["windows.events.critical"] = Thrown(TEXT["fr"]["denied"])
    result, report, _script = run_audit(cli, windows, endpoint, tmp_path, outputs)
    found = by_key(report)
    events = found[("windows.events.critical", None)]
    assert events["severity"] == "unknown"
    assert events["message"] == "the check failed on the host: Tentative d'exécution d'une opération non autorisée."
    assert events["why"] and events["fix"]
    assert {f["severity"] for (c, _s), f in found.items() if c != "windows.events.critical"} == {"ok"}
    assert result.rc == ExitStatus.CHECK_UNKNOWN


def test_playbook_thresholds_reach_the_windows_checks(windows, endpoint, tmp_path, cli) -> None:
    playbook = {"audits": {
        "thresholds": {"windows.disk.free": {"warning": 40, "critical": 60}},
        "hosts": {"srv-fichiers": {"windows.services.auto": {"also_ignore": ["w3svc"]},
                                   "windows.updates.age": {"warning_days": 90, "critical_days": 120}}}}}
    _result, report, _script = run_audit(cli, windows, endpoint, tmp_path, windows_facts("en", healthy=False),
                                         playbook)
    found = by_key(report)
    assert found[("windows.disk.free", "D:")]["severity"] == "warning"  # 50 % with warning at 40 %
    assert ("windows.services.auto", "W3SVC") not in found
    assert found[("windows.services.auto", "Spooler")]["severity"] == "critical"
    assert found[("windows.updates.age", None)]["severity"] == "ok"


# --------------------------------------------------------------------------- the checks themselves


def test_every_windows_check_is_registered_with_plain_texts() -> None:
    every = checks()
    assert sorted(every) == IDS
    for check in every.values():
        assert check.platforms() == ["windows"] and check.evaluate is not None and check.run is None
        assert check.title and len(check.why) > 40 and len(check.fix) > 40
    assert every["windows.disk.free"].thresholds == {"warning": 85, "critical": 95}
    assert every["windows.updates.age"].thresholds["warning_days"] == 35
    assert every["windows.updates.age"].thresholds["critical_days"] == 60
    assert every["windows.defender"].thresholds == {"signature_warning_days": 3, "signature_critical_days": 7}
    events = every["windows.events.critical"].thresholds
    assert (events["critical_events_warning"], events["errors_warning"]) == (1, 10)
    assert {"gupdate", "sppsvc", "RemoteRegistry", "edgeupdate", "MapsBroker", "WbioSrvc", "tiledatamodelsvc",
            "CDPSvc"} <= set(every["windows.services.auto"].thresholds["ignore"])


@pytest.mark.parametrize("check_id", IDS)
def test_bodies_print_invariant_json_only(check_id: str) -> None:
    body = checks()[check_id].windows
    assert body is not None
    assert "ConvertTo-Json -Compress" in body
    for formatted in ("Format-Table", "Format-List", "Out-String", "Select-String", "LevelDisplayName",
                      "-match 'Running'", "sc.exe", "netsh", "systeminfo", "Get-Service"):
        assert formatted not in body  # console text is localized; only CIM/cmdlet values are read
    if any(word in body for word in ("Date", "TimeCreated", "LastUpdated", "InstalledOn")):
        assert ".ToString('o')" in body
    assert "@@itref" not in body and "\r" not in body


def test_the_audit_script_fits_one_winrm_command_line_with_room_to_spare() -> None:
    script = wrap_script(host_script(select(["windows.*"]), "windows"))
    length = len(POWERSHELL) + sum(len(a) + 1 for a in encoded_arguments(script))
    assert length < MAX_COMMAND_LINE * 0.6, length  # room for other families' Windows checks


@pytest.mark.parametrize("check_id", IDS)
@pytest.mark.parametrize(("output", "rc", "expected"), [
    ("", 0, "the host printed nothing"),
    ("{\"truncated\": [1, 2", 0, "not JSON"),
    ("Get-CimInstance : Classe non valide « Win32_LogicalDisk »", 0, "not JSON"),
    ("\"just a string\"", 0, "could not read"),
    ("[1, 2, 3]", 0, "could not read"),
    ("Accès refusé. (Exception de HRESULT : 0x80070005 (E_ACCESSDENIED))", 1, "the check failed on the host: Accès "
                                                                             "refusé."),
    ("", 1, "the check failed on the host: no message"),
])
def test_unreadable_or_failed_sections_are_unknown(check_id: str, output: str, rc: int, expected: str) -> None:
    finding = one(evaluate(check_id, output, rc))
    assert finding.severity is Severity.UNKNOWN and expected in finding.message, finding.message
    assert finding.why and finding.fix and finding.host == "srv-fichiers"


def test_disk_levels_per_drive_and_thresholds() -> None:
    disks = [{"id": "C:", "label": "", "fs": "NTFS", "size": 100 * GIB, "free": 15 * GIB},
             {"id": "E:", "label": "Sauvegarde", "fs": "ReFS", "size": 1000 * GIB, "free": 50 * GIB},
             {"id": "F:", "label": None, "fs": "NTFS", "size": 100 * GIB, "free": 15 * GIB + 1}]
    found = {f.subject: f for f in evaluate("windows.disk.free", ps_json(disks))}
    assert found["C:"].severity is Severity.WARNING and found["C:"].message.startswith("C: is 85% full")
    assert found["E:"].severity is Severity.CRITICAL and "E: (Sauvegarde) is 95% full" in found["E:"].message
    assert found["F:"].severity is Severity.WARNING  # 84.99 % shows as 85 %, and is judged as shown
    relaxed = {f.subject: f.severity for f in evaluate("windows.disk.free", ps_json(disks), warning=90, critical=98)}
    assert relaxed == {"C:": Severity.OK, "E:": Severity.WARNING, "F:": Severity.OK}


@pytest.mark.parametrize("output", [
    "[]", ps_json([{"id": "Z:", "size": 0, "free": 0}]), ps_json([{"id": "Z:", "size": None, "free": None}])])
def test_disk_nothing_measurable_is_not_applicable(output: str) -> None:
    finding = one(evaluate("windows.disk.free", output))
    assert finding.severity is Severity.INFO and finding.message == "not applicable: no local fixed disk reported"


def test_disk_accepts_the_other_shapes_of_powershell_5_1_arrays() -> None:
    disk = {"id": "C:", "label": "OS", "fs": "NTFS", "size": 100 * GIB, "free": 50 * GIB}
    assert one(evaluate("windows.disk.free", ps_json(disk))).subject == "C:"  # one element, not an array
    wrapped = ps_json({"value": [disk], "Count": 1})  # an array wrapped by the 5.1 type system
    assert one(evaluate("windows.disk.free", wrapped)).severity is Severity.OK
    wrapped_text = ps_json([disk])  # Out-String may wrap a long line: the JSON holds no raw line break
    assert one(evaluate("windows.disk.free", wrapped_text[:20] + "\n" + wrapped_text[20:])).subject == "C:"


def service(name: str, code: int = 0, state: str = "Stopped", *, delayed: bool = False, trigger: bool = False,
            display: str | None = None) -> dict:
    return {"name": name, "display": display or name, "state": state, "code": code, "delayed": delayed,
            "trigger": trigger}


def test_services_all_running_is_ok() -> None:
    finding = one(evaluate("windows.services.auto", ps_json({"auto": 87, "stopped": []})))
    assert finding.severity is Severity.OK and finding.message == "all 87 automatic services that should run are " \
                                                                   "running"


def test_services_nothing_reported_is_not_applicable() -> None:
    finding = one(evaluate("windows.services.auto", ps_json({"auto": 0, "stopped": []})))
    assert finding.severity is Severity.INFO and finding.message.startswith("not applicable")


def test_services_ignore_lists_are_globs_in_any_case() -> None:
    data = {"auto": 90, "stopped": [service("OneSyncSvc_3f2a1", 1077), service("clr_optimization_v4.0.30319_64"),
                                    service("EDGEUPDATE"), service("VeeamBackupSvc", 1066, display="Veeam Backup")]}
    found = evaluate("windows.services.auto", ps_json(data))
    assert [f.subject for f in found] == ["VeeamBackupSvc"] and found[0].severity is Severity.CRITICAL
    assert "'Veeam Backup (VeeamBackupSvc)'" in found[0].message
    quiet = one(evaluate("windows.services.auto", ps_json(data), also_ignore=["veeam*"]))
    assert quiet.severity is Severity.OK and "(4 stopped on purpose by Windows or ignored)" in quiet.message
    assert one(evaluate("windows.services.auto", ps_json(data), also_ignore="VeeamBackupSvc")).severity is Severity.OK
    replaced = evaluate("windows.services.auto", ps_json(data), ignore=[])  # the defaults replaced by nothing
    assert {f.subject for f in replaced} == {"OneSyncSvc_3f2a1", "clr_optimization_v4.0.30319_64", "EDGEUPDATE",
                                             "VeeamBackupSvc"}


def test_services_delayed_or_trigger_start_count_only_when_they_failed() -> None:
    data = {"auto": 90, "stopped": [service("WinHttpAutoProxySvc", 0, trigger=True),
                                    service("wscsvc", 1077, delayed=True),
                                    service("MSSQL$SQLEXPRESS", 17058, delayed=True, display="SQL Server (SQLEXPRESS)"),
                                    service("DHCPServer", 0, "Start Pending"),
                                    service("Netlogon", 0, "Paused")]}
    found = {f.subject: f for f in evaluate("windows.services.auto", ps_json(data))}
    assert set(found) == {"MSSQL$SQLEXPRESS", "DHCPServer", "Netlogon"}
    assert found["MSSQL$SQLEXPRESS"].severity is Severity.CRITICAL and "exit code 17058" in found[
        "MSSQL$SQLEXPRESS"].message
    assert found["DHCPServer"].severity is Severity.INFO and "is starting" in found["DHCPServer"].message
    assert found["Netlogon"].severity is Severity.WARNING and "is paused" in found["Netlogon"].message
    assert found["Netlogon"].evidence["state"] == "Paused"


@pytest.mark.parametrize(("facts", "severity", "words"), [
    ({}, Severity.OK, "no reboot pending"),
    ({"cbs": True}, Severity.WARNING, "Windows component updates"),
    ({"wu": True}, Severity.WARNING, "Windows Update"),
    ({"active": "SRV-OLD", "name": "SRV-FICHIERS"}, Severity.WARNING, "from SRV-OLD to SRV-FICHIERS"),
    ({"active": "srv-fichiers", "name": "SRV-FICHIERS"}, Severity.OK, "no reboot pending"),
    ({"join": True}, Severity.WARNING, "joining a domain"),
    ({"files": 6}, Severity.INFO, "6 file operation(s) wait for the next reboot"),
])
def test_reboot_pending_reasons(facts: dict, severity: Severity, words: str) -> None:
    base = {"cbs": False, "wu": False, "files": 0, "active": "SRV-FICHIERS", "name": "SRV-FICHIERS", "join": False}
    finding = one(evaluate("windows.reboot.pending", ps_json({**base, **facts})))
    assert finding.severity is severity and words in finding.message, finding.message


def test_reboot_file_renames_can_count_as_pending() -> None:
    data = ps_json({"cbs": False, "wu": False, "files": 2, "active": None, "name": None, "join": False})
    assert one(evaluate("windows.reboot.pending", data, file_renames_need_reboot=True)).severity is Severity.WARNING


def updates(*installs: tuple[int, str], source: str = "wua") -> str:
    return ps_json({"source": source, "now": ps_date(NOW),
                    "installs": [{"date": ps_date(NOW - timedelta(days=d, hours=1)), "title": t} for d, t in installs]})


@pytest.mark.parametrize(("days", "severity"), [(0, Severity.OK), (34, Severity.OK), (35, Severity.WARNING),
                                                (59, Severity.WARNING), (60, Severity.CRITICAL)])
def test_updates_age_levels(days: int, severity: Severity) -> None:
    finding = one(evaluate("windows.updates.age", updates((days, "KB5037782"), (days + 30, "KB5036909"))))
    assert finding.severity is severity and finding.evidence["days"] == days


def test_updates_definition_and_ignored_updates_do_not_count() -> None:
    output = updates((1, "Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 (Version "
                         "1.411.190.0)"), (3, "Windows Malicious Software Removal Tool x64 - v5.124 (KB890830)"),
                     (40, "Mise à jour cumulative 2024-04 (KB5036896)"))
    assert one(evaluate("windows.updates.age", output)).evidence["days"] == 3
    finding = one(evaluate("windows.updates.age", output, ignore_kbs=["kb890830"]))
    assert finding.evidence["days"] == 40 and finding.severity is Severity.WARNING
    assert "Mise à jour cumulative 2024-04" in finding.message


def test_updates_hotfix_fallback_and_nothing_found() -> None:
    finding = one(evaluate("windows.updates.age", updates((20, "KB5034127"), source="hotfix")))
    assert finding.severity is Severity.OK and finding.evidence["source"] == "hotfix"
    empty = one(evaluate("windows.updates.age", ps_json({"source": "hotfix", "now": ps_date(NOW), "installs": []})))
    assert empty.severity is Severity.UNKNOWN and "no installed update found" in empty.message
    undated = ps_json({"source": "wua", "installs": [{"date": None, "title": "KB1"}, {"date": "hier", "title": "KB2"}]})
    assert one(evaluate("windows.updates.age", undated)).severity is Severity.UNKNOWN


def test_updates_age_follows_the_hosts_clock() -> None:
    host_now = NOW - timedelta(days=30)  # the host's clock is a month late: its own view counts
    output = ps_json({"source": "wua", "now": ps_date(host_now),
                      "installs": [{"date": ps_date(host_now - timedelta(days=2)), "title": "KB5037782"}]})
    assert one(evaluate("windows.updates.age", output)).evidence["days"] == 2


def defender(**changes: Any) -> str:
    base = {"state": "ok", "av": True, "realtime": True, "age": 1, "mode": "Normal",
            "updated": ps_date(NOW - timedelta(days=1)), "now": ps_date(NOW)}
    return ps_json({**base, **changes})


def test_defender_on_and_fresh_is_ok() -> None:
    found = {f.subject: f for f in evaluate("windows.defender", defender())}
    assert {s: f.severity for s, f in found.items()} == {"protection": Severity.OK, "signatures": Severity.OK}
    assert "1 day(s) old" in found["signatures"].message


@pytest.mark.parametrize(("changes", "protection", "signatures"), [
    ({"av": False}, Severity.CRITICAL, Severity.OK),
    ({"realtime": False}, Severity.CRITICAL, Severity.OK),
    ({"age": 3}, Severity.OK, Severity.WARNING),
    ({"age": 7}, Severity.OK, Severity.CRITICAL),
    ({"age": 65535, "updated": None}, Severity.OK, Severity.CRITICAL),
    ({"age": None, "updated": ps_date(NOW - timedelta(days=4, hours=2))}, Severity.OK, Severity.WARNING),
])
def test_defender_levels(changes: dict, protection: Severity, signatures: Severity) -> None:
    found = {f.subject: f.severity for f in evaluate("windows.defender", defender(**changes))}
    assert found == {"protection": protection, "signatures": signatures}


def test_defender_not_there_or_not_answering() -> None:
    absent = one(evaluate("windows.defender", '{"state":"absent"}\r\n'))
    assert absent.severity is Severity.INFO and absent.message.startswith("not applicable: Microsoft Defender is "
                                                                          "not installed")
    assert absent.why == "" and absent.fix == ""
    error = one(evaluate("windows.defender", ps_json({"state": "error", "error": "Échec de l'opération avec "
                                                                                 "l'erreur 0x800106ba."})))
    assert error.severity is Severity.UNKNOWN and "Échec de l'opération" in error.message
    passive = one(evaluate("windows.defender", defender(mode="Passive Mode", av=False)))
    assert passive.severity is Severity.INFO and "passive mode" in passive.message
    unknown_age = evaluate("windows.defender", defender(age=None, updated=None))
    assert one(unknown_age, "signatures").severity is Severity.UNKNOWN
    assert one(evaluate("windows.defender", ps_json({"state": "?"}))).severity is Severity.UNKNOWN


def events(*groups: tuple[str, int, int, int], total: int | None = None, message: str = "msg") -> str:
    rows = [{"log": "System", "provider": p, "id": i, "level": lvl, "count": n, "last": ps_date(NOW),
             "message": message} for p, i, lvl, n in groups]
    return ps_json({"since": ps_date(NOW - timedelta(hours=24)), "max": 200, "groups": rows,
                    "total": sum(r["count"] for r in rows) if total is None else total})


def test_events_none_is_ok() -> None:
    finding = one(evaluate("windows.events.critical", events()))
    assert finding.severity is Severity.OK and finding.subject == "events"
    assert finding.message == "no critical event and no error in the System and Application logs over the last 24 " \
                              "hours"


@pytest.mark.parametrize(("groups", "severity"), [
    ([("Disk", 7, 2, 9)], Severity.OK),
    ([("Disk", 7, 2, 10)], Severity.WARNING),
    ([("Disk", 7, 2, 60), ("Ntfs", 55, 2, 40)], Severity.CRITICAL),
    ([("Microsoft-Windows-Kernel-Power", 41, 1, 1)], Severity.WARNING),
    ([("Microsoft-Windows-Kernel-Power", 41, 1, 5)], Severity.CRITICAL),
])
def test_events_levels(groups: list, severity: Severity) -> None:
    assert one(evaluate("windows.events.critical", events(*groups))).severity is severity


def test_events_ignore_and_message_display() -> None:
    long = "Le pilote a détecté une erreur de contrôleur sur \\Device\\Harddisk1\\DR1. " * 10
    output = events(("Microsoft-Windows-DistributedCOM", 10016, 2, 40), ("Disk", 11, 2, 12), total=200,
                    message=long)
    finding = one(evaluate("windows.events.critical", output))
    assert finding.severity is Severity.WARNING and finding.evidence["ignored"] == 40
    assert "(only the latest 200 were read)" in finding.message and "Disk 11 (12×): Le pilote a détecté" in \
        finding.message
    assert len(finding.evidence["groups"][0]["message"]) <= 300 and len(finding.message) < 400
    quiet = one(evaluate("windows.events.critical", output, also_ignore=["disk/*"]))
    assert quiet.severity is Severity.OK and "(52 ignored)" in quiet.message


def test_firewall_profiles() -> None:
    profiles = [{"name": "Domain", "enabled": "True", "inbound": "Allow"},
                {"name": "Private", "enabled": 1, "inbound": "Block"},
                {"name": "Public", "enabled": False, "inbound": "NotConfigured"},
                {"name": "Other", "enabled": "NotConfigured", "inbound": ""}]
    found = {f.subject: f for f in evaluate("windows.firewall", ps_json(profiles))}
    assert {s: f.severity for s, f in found.items()} == {"Domain": Severity.WARNING, "Private": Severity.OK,
                                                        "Public": Severity.CRITICAL, "Other": Severity.WARNING}
    assert "lets every incoming connection in" in found["Domain"].message
    assert found["Public"].message == "the firewall is off for public networks"


def test_firewall_absent_or_empty() -> None:
    absent = one(evaluate("windows.firewall", '{"state":"absent"}'))
    assert absent.severity is Severity.INFO and absent.message.startswith("not applicable")
    assert one(evaluate("windows.firewall", "[]")).severity is Severity.UNKNOWN
