"""Folders of database dumps (``kind: files``) verified and restore-tested with the real tools: dumps made by the
real ``pg_dump`` of a real PostgreSQL server started here, compressed by the real gzip and zstd, archived by the
real tar and zip; damaged ones made by cutting real dumps short."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from tests.backup.test_backup_check import by_name, project
from tests.conftest import shared_tmp, ssh_host_entry

pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def real_dumps(ssh_user) -> Iterator[dict[str, bytes]]:
    """pg_dump's custom and plain dumps of a small real database (the server is stopped once they are made)."""
    from itref.lab.peers.postgres import server

    with server(ssh_user) as pg:
        yield {"custom": pg.dump("base_sociale", "c"), "plain": pg.dump("base_sociale", "p")}


def dump_folder(folder: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` into ``folder``, each one a minute older than the next (the last one is the newest)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for i, (name, data) in enumerate(files.items()):
        (folder / name).write_bytes(data)
        os.utime(folder / name, (now - 60 * (len(files) - i), now - 60 * (len(files) - i)))
    return folder


def zstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout


def tar_gz(folder: Path, name: str, content: bytes) -> bytes:
    inner = folder / "to-archive"
    inner.mkdir()
    (inner / name).write_bytes(content)
    out = subprocess.run(["tar", "-czf", "-", "-C", str(inner), name], capture_output=True, check=True).stdout
    (inner / name).unlink()
    inner.rmdir()
    return out


def zip_of(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, content)
    return buffer.getvalue()


def files_backup(name: str, folder: Path, pattern: str = "*", **extra: object) -> dict:
    return {"name": name, "kind": "files", "path": str(folder), "pattern": pattern, "max_age": "26h", **extra}


def results(out: str) -> dict[str, dict]:
    return {r["backup"]: r for r in json.loads(out)}


def test_verify_reads_every_real_dump_to_its_end_and_names_the_damaged_one(real_dumps, tmp_path, cli) -> None:
    plain, custom = real_dumps["plain"], real_dumps["custom"]
    assert custom.startswith(b"PGDMP") and b"-- PostgreSQL database dump complete" in plain
    sound = dump_folder(tmp_path / "sound", {
        "base.dump": custom, "base.sql": plain, "base.sql.gz": gzip.compress(plain), "base.sql.zst": zstd(plain),
        "base.tar.gz": tar_gz(tmp_path, "base.sql", plain), "base.zip": zip_of("base.sql", plain)})
    whole_gz = gzip.compress(plain)
    broken = dump_folder(tmp_path / "broken", {
        "a-good.sql.gz": whole_gz, "b-cut.sql.gz": whole_gz[: len(whole_gz) // 2],
        "c-cut.dump": custom[: len(custom) // 2], "d-cut.sql": plain[: len(plain) // 2]})
    inv = project(tmp_path, [files_backup("sound-dumps", sound), files_backup("broken-dumps", broken)])
    run = cli("-i", str(inv), "-f", "json", "backup", "verify")
    found = results(run.out)
    assert found["sound-dumps"]["status"] == "ok", found["sound-dumps"]
    assert "6 dumps read to the end and sound" in found["sound-dumps"]["detail"]
    assert found["broken-dumps"]["status"] == "failed" and run.rc == ExitStatus.CHECK_CRITICAL
    detail = found["broken-dumps"]["detail"]
    assert "b-cut.sql.gz: gzip is damaged" in detail and "c-cut.dump: PostgreSQL custom dump is damaged" in detail
    assert "d-cut.sql: PostgreSQL SQL dump that stops before its end" in detail and "a-good" not in detail
    journal = json.loads(cli("journal", "-f", "json").out)
    assert sorted(r["outcome"] for r in journal if r["action"] == "backup verify") == ["failed", "ok"]


@pytest.mark.parametrize(("newest", "make", "said"), [
    ("base.dump", lambda d, _t: d["custom"], "PostgreSQL custom dump, "),
    ("base.sql.gz", lambda d, _t: gzip.compress(d["plain"]), "gzip + PostgreSQL SQL dump, complete"),
    ("base.sql.zst", lambda d, _t: zstd(d["plain"]), "zstd + PostgreSQL SQL dump, complete"),
    ("base.tar.gz", lambda d, t: tar_gz(t, "base.dump", d["custom"]), "gzip + tar archive, 1 entries listed"),
    ("base.zip", lambda d, _t: zip_of("base.sql", d["plain"]), "zip archive, 1 entries listed"),
], ids=["pg-custom", "sql-gzip", "sql-zstd", "tar-gzip", "zip"])
def test_a_drill_restores_the_newest_dump_and_reads_it_as_what_it_is(real_dumps, tmp_path, cli, newest, make,
                                                                      said) -> None:
    folder = dump_folder(tmp_path / "dumps", {"older.sql.gz": b"not even gzip", newest: make(real_dumps, tmp_path)})
    inv = project(tmp_path, [files_backup("sql-dumps", folder)])
    before = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))["sql-dumps"]
    assert before["severity"] == "warning" and "never restore-tested (policy: every 92 days)" in before["message"]
    drill = cli("-i", str(inv), "-f", "json", "backup", "drill")
    result = results(drill.out)["sql-dumps"]
    assert drill.rc == ExitStatus.SUCCESS and result["status"] == "ok", result
    assert result["detail"].startswith(f"{newest} restored and read back: {said}"), result["detail"]
    if newest == "base.dump":  # pg_restore --list counted the dump's objects (tables, index, data, constraints)
        assert int(result["detail"].split(", ")[1].split()[0]) >= 8
    after = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))["sql-dumps"]
    assert after["severity"] == "ok" and "last restore test 0 minutes ago" in after["message"], after


@pytest.mark.parametrize(("newest", "make", "status", "said"), [
    ("cut.sql.gz", lambda d: gzip.compress(d["plain"][: len(d["plain"]) // 2]), "failed",
     "PostgreSQL SQL dump that stops before its end: the completion line of the dump is missing"),
    ("cut.dump", lambda d: d["custom"][:200], "failed", "PostgreSQL custom dump is damaged"),
    ("broken.sql.gz", lambda d: gzip.compress(d["plain"])[:-40], "failed", "gzip is damaged"),
    ("notes.sql", lambda d: b"SELECT 1;\n", "warning", "not a pg_dump or mysqldump dump"),
    ("noise.bin", lambda d: os.urandom(4096), "failed", "not a format itref can read back"),
    ("empty.sql", lambda d: b"", "failed", "the file is empty"),
], ids=["sql-cut-short", "custom-cut-short", "gzip-cut-short", "sql-of-no-dumper", "random-bytes", "empty"])
def test_a_drill_of_a_dump_that_cannot_be_read_back_is_not_a_pass(real_dumps, tmp_path, cli, newest, make, status,
                                                                   said) -> None:
    folder = dump_folder(tmp_path / "dumps", {"good.sql.gz": gzip.compress(real_dumps["plain"]),
                                              newest: make(real_dumps)})
    inv = project(tmp_path, [files_backup("sql-dumps", folder)])
    drill = cli("-i", str(inv), "-f", "json", "backup", "drill")
    result = results(drill.out)["sql-dumps"]
    assert result["status"] == status and said in result["detail"], result
    assert drill.rc == (ExitStatus.CHECK_CRITICAL if status == "failed" else ExitStatus.CHECK_WARNING)
    table = cli("-i", str(inv), "backup", "drill")
    assert ("[FAILED]" if status == "failed" else "[WARNING]") in table.out
    assert "sql-dumps — CPAS, files localhost:" in table.out  # named by its name first
    check = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))["sql-dumps"]
    assert check["severity"] == "warning" and "never restore-tested" in check["message"]  # not a pass


def test_a_drill_or_verify_with_nothing_itref_can_test_exits_8_with_a_sentence(tmp_path, cli) -> None:
    inv = project(tmp_path, [{"name": "image-systeme", "kind": "wbadmin", "max_age": "26h"}])
    for action in ("drill", "verify"):
        run = cli("-i", str(inv), "backup", action)
        assert run.rc == ExitStatus.CHECK_UNKNOWN == 8, run.all
        assert "image-systeme (wbadmin)" in run.err and "dump folders (kind: files) on Linux hosts" in run.err
        assert "Traceback" not in run.all
    named = cli("-i", str(inv), "backup", "drill", "image-systeme")
    assert named.rc == ExitStatus.CHECK_UNKNOWN and "nothing to restore-test" in named.err


def test_dumps_are_drilled_on_the_host_that_holds_them_over_ssh(real_dumps, sshd, ssh_user, tmp_path, cli) -> None:
    with shared_tmp("dumps") as root:
        folder = dump_folder(root / "dumps", {"base-1.sql.gz": b"old", "base-2.dump": real_dumps["custom"]})
        subprocess.run(["chown", "-R", f"{ssh_user.name}:", str(root)], check=True)
        inv = project(tmp_path, [{**files_backup("sql-dumps", folder), "host": "srv-app"}],
                      hosts={"srv-app": ssh_host_entry(sshd)})
        before = set(Path("/tmp").glob("itref-drill-*"))
        drill = cli("-i", str(inv), "-f", "json", "backup", "drill")
        result = results(drill.out)["sql-dumps"]
        assert drill.rc == 0 and result["status"] == "ok" and result["where"].startswith("srv-app:"), result
        assert "base-2.dump restored and read back: PostgreSQL custom dump" in result["detail"]
        assert set(Path("/tmp").glob("itref-drill-*")) == before  # the scratch copy is gone
        verify = results(cli("-i", str(inv), "-f", "json", "backup", "verify").out)["sql-dumps"]
        assert verify["status"] == "warning", verify  # 'old' is text, but no dumper's: it cannot be judged
        assert "1 dump read to the end and sound; not tested: base-1.sql.gz: a text file that is not a pg_dump" \
            in verify["detail"]
