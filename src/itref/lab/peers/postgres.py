"""A real PostgreSQL server for a few seconds, to make real dumps: ``pg_dump`` in its custom and plain formats.

The tests and the lab use it to make the database dumps that ``itref backup verify`` and ``itref backup drill``
read back: a dump made by the real ``pg_dump`` of a real database, not a file made to look like one. The server
is Debian's (package ``postgresql``), run by a non-root user (PostgreSQL refuses root), with no TCP listener at
all: only a Unix socket in a private folder, gone with the server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from itref.lab.peers.sshd import UserInfo

SAMPLE_SQL = """
CREATE TABLE dossiers (id serial PRIMARY KEY, beneficiaire text NOT NULL, ouvert date NOT NULL, montant numeric);
INSERT INTO dossiers (beneficiaire, ouvert, montant)
  SELECT 'Bénéficiaire ' || g, DATE '2024-01-01' + g, g * 12.5 FROM generate_series(1, 400) AS g;
CREATE TABLE rendez_vous (id serial PRIMARY KEY, dossier int REFERENCES dossiers(id), le timestamptz);
INSERT INTO rendez_vous (dossier, le) SELECT g, now() - g * interval '1 day' FROM generate_series(1, 200) AS g;
CREATE INDEX ON rendez_vous (le);
"""
"""A small social-service database: two tables, a foreign key, an index, some hundred rows."""


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are not installed (Debian: ``apt-get install postgresql``)."""


def bin_dir() -> Path:
    """Return the folder of PostgreSQL's server programs (initdb, pg_ctl), the newest installed version.

    Raises PostgresUnavailable when none is installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise PostgresUnavailable("PostgreSQL's server is not installed (Debian: apt-get install postgresql)")
    return found[-1].parent


@dataclass(frozen=True)
class Server:
    """A running throwaway server: its socket folder and the user it runs as."""

    socket_dir: Path
    user: UserInfo
    bin: Path

    def run(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        """Run a PostgreSQL client program as the server's user against this server; return it (raises
        CalledProcessError when it fails)."""
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "PGHOST": str(self.socket_dir), "PGUSER": self.user.name,
               "PGDATABASE": "postgres", "LC_ALL": "C.UTF-8", "HOME": str(self.socket_dir)}
        return subprocess.run(argv, env=env, check=True, capture_output=True, timeout=120,  # type: ignore[call-overload]
                              user=self.user.uid, group=self.user.gid, extra_groups=[], **kwargs)

    def dump(self, database: str, fmt: str) -> bytes:
        """Return ``pg_dump --format=fmt database``'s output (``c``: custom, ``p``: plain SQL)."""
        return self.run(["pg_dump", f"--format={fmt}", "--no-owner", database]).stdout


@contextlib.contextmanager
def server(user: UserInfo) -> Iterator[Server]:
    """Start a PostgreSQL server as ``user`` (Unix socket only, in a private temporary folder), with a database
    ``base_sociale`` holding :data:`SAMPLE_SQL`; stop it and remove everything when the block ends.

    Raises PostgresUnavailable when the server programs are missing, CalledProcessError when it does not start."""
    binaries = bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="itref-pg-"))
    try:
        os.chown(folder, user.uid, user.gid)
        folder.chmod(0o700)
        data = folder / "data"
        env = {"PATH": f"{binaries}:/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(folder)}
        as_user: dict[str, object] = {"user": user.uid, "group": user.gid, "extra_groups": []}
        subprocess.run([str(binaries / "initdb"), "-D", str(data), "-U", user.name, "--auth=trust", "-E", "UTF8",
                        "--no-sync"], env=env, check=True, capture_output=True, timeout=120, **as_user)  # type: ignore[call-overload]
        options = f"-c listen_addresses='' -c unix_socket_directories='{folder}' -c fsync=off"
        subprocess.run([str(binaries / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(folder / "log"),
                        "-o", options, "start"], env=env, check=True, capture_output=True, timeout=120,
                       **as_user)  # type: ignore[call-overload]
        running = Server(folder, user, binaries)
        try:
            running.run(["createdb", "base_sociale"])
            running.run(["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", "base_sociale"], input=SAMPLE_SQL.encode())
            yield running
        finally:
            subprocess.run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], env=env,
                           capture_output=True, timeout=120, **as_user)  # type: ignore[call-overload]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
