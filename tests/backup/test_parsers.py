"""Parsers of backup tools' outputs: time formats, wbadmin in English and French, Veeam JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from itref.backup.borg import classify as borg_classify
from itref.backup.borg import parse_info
from itref.backup.restic import classify as restic_classify
from itref.backup.restic import parse_time
from itref.backup.veeam import parse_sessions
from itref.backup.wbadmin import parse_versions

WBADMIN_EN = """wbadmin 1.0 - Backup command-line tool
(C) Copyright Microsoft Corporation. All rights reserved.

Backup time: 11/26/2026 11:00 PM
Backup location: Volume labeled Backup(E:)
Version identifier: 11/26/2026-22:00
Can recover: Volume(s), File(s), Application(s), Bare Metal Recovery, System State

Backup time: 11/27/2026 11:00 PM
Backup location: Volume labeled Backup(E:)
Version identifier: 11/27/2026-22:00
Can recover: Volume(s), File(s), Application(s), Bare Metal Recovery, System State
"""
WBADMIN_FR = """wbadmin 1.0 - Outil de sauvegarde en ligne de commande
(C) Copyright Microsoft Corporation. Tous droits réservés.

Heure de la sauvegarde : 27/11/2026 23:00
Emplacement de la sauvegarde : Volume nommé Sauvegarde(E:)
Identificateur de version : 11/27/2026-22:00
Peut récupérer : Volume(s), Fichier(s), Application(s), Récupération complète du système, État du système
"""


def test_restic_times_with_nanoseconds_and_offsets() -> None:
    assert parse_time("2026-11-28T08:54:26.523585099Z") == datetime(2026, 11, 28, 8, 54, 26, 523585, tzinfo=UTC)
    local = parse_time("2026-11-28T09:54:26.5+01:00")
    assert local.utcoffset() == timedelta(hours=1) and local.astimezone(UTC).hour == 8
    assert parse_time("2026-11-25T10:00:00Z").tzinfo is not None


def test_wbadmin_versions_are_read_whatever_the_language() -> None:
    assert parse_versions(WBADMIN_EN)[-1] == datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    assert len(parse_versions(WBADMIN_EN)) == 2
    assert parse_versions(WBADMIN_FR) == [datetime(2026, 11, 27, 22, 0, tzinfo=UTC)]


def test_veeam_single_object_or_list() -> None:
    one = parse_sessions('{"job":"CPAS-VMs","result":"Success","end":"2026-11-27T23:10:00.0000000Z","size":1}')
    assert one[0]["job"] == "CPAS-VMs"
    assert len(parse_sessions('[{"job":"a"},{"job":"b"}]')) == 2


def test_borg_times_printed_under_tz_utc_are_read_as_utc() -> None:
    facts = parse_info('{"archives":[{"name":"n","start":"2026-11-28T09:54:31.000000",'
                       '"end":"2026-11-28T09:55:00.000000","hostname":"nas","command_line":["borg","create",'
                       '"/r::n","/srv/data"],"stats":{"original_size":5,"nfiles":2}}]}')
    assert facts.latest == datetime(2026, 11, 28, 9, 55, tzinfo=UTC)
    assert facts.paths == ("/srv/data",) and facts.files == 2


def test_error_texts_become_problems() -> None:
    assert restic_classify("Fatal: wrong password or no key found\n", 1)[0] == "wrong-password"
    assert restic_classify("Fatal: unable to open config file: stat /x/config: no such file or directory\n"
                           "Is there a repository at the following location?\n/x", 1)[0] == "missing"
    assert restic_classify("unable to create lock in backend: repository is already locked exclusively", 1)[0] \
        == "locked"
    assert borg_classify("passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD "
                         "is incorrect.", 52)[0] == "wrong-password"
    assert borg_classify("Repository /x does not exist.", 2)[0] == "missing"
    assert borg_classify("Failed to create/acquire the lock /r/lock.exclusive (timeout).", 2)[0] == "locked"
