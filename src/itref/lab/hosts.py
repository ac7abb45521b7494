"""The lab's Linux hosts: each a real OpenSSH sshd (:mod:`itref.lab.peers.sshd`) with its own hostname and its own
small data disk at ``/srv/data`` (an ext4 image, loop-mounted in the host's private mount namespace, so only its
sessions see it and it goes away with it), plus the lab's stand-in tools on the host's PATH.

The stand-ins are honest shell scripts in the runtime folder: ``systemctl`` (the lab runs no systemd: failed units
are files under ``hosts/NAME/units``), ``certbot`` (renews the intranet's certificate from the lab's CA with
openssl) and ``lab-nightly-backup`` (the NAS's nightly job: restic or borg, run again by hand).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from itref.lab.layout import LabPaths
from itref.lab.peers.sshd import SSHDHost, SSHKeys, UserInfo
from itref.lab.tls import INTRANET_NAME
from itref.lab.world import DISK_MB, LabHost

SYSTEMCTL = r"""#!/bin/sh
# itref lab: a stand-in for systemctl (the lab's hosts run no systemd). Failed units are files in
# RUNTIME/hosts/$(hostname)/units/UNIT.failed holding the unit's description.
d="RUNTIME/hosts/$(hostname)/units"
cmd=""
for a in "$@"; do case "$a" in -*) ;; *) if [ -z "$cmd" ]; then cmd="$a"; else unit="$a"; fi ;; esac; done
case "$cmd" in
  list-units|--failed)
    for f in "$d"/*.failed; do
      [ -e "$f" ] && echo "$(basename "$f" .failed) loaded failed failed $(cat "$f")"
    done; true ;;
  restart|start|reset-failed)
    rm -f "$d/$unit.failed"; echo "$unit: started (lab)" ;;
  is-failed)
    if [ -e "$d/$unit.failed" ]; then echo failed; else echo active; exit 1; fi ;;
  status)
    if [ -e "$d/$unit.failed" ]; then
      echo "x $unit - $(cat "$d/$unit.failed")"; echo "   Active: failed (Result: exit-code)"; exit 3
    else echo "* $unit"; echo "   Active: active (running)"; fi ;;
  *) echo "lab systemctl: '$cmd' is not played by the lab" >&2; exit 1 ;;
esac
"""

CERTBOT = r"""#!/bin/sh
# itref lab: a stand-in for certbot. 'certbot renew' issues a new 90-day certificate for the intranet from the
# lab's CA (openssl) and installs it; the intranet serves it at the next connection.
set -eu
[ "${1:-}" = renew ] || { echo "lab certbot: only 'certbot renew' is played by the lab" >&2; exit 1; }
c="RUNTIME/certs"
t=$(mktemp -d "$c/.renew.XXXXXX")
trap 'rm -rf "$t"' EXIT
printf 'subjectAltName=DNS:NAME,IP:ADDRESS\nextendedKeyUsage=serverAuth\n' > "$t/ext"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$t/key" -subj "/CN=NAME" \
  -out "$t/csr" 2>/dev/null
openssl x509 -req -in "$t/csr" -CA "$c/lab-ca.pem" -CAkey "$c/lab-ca.key" -set_serial "$(date +%s%N)" -days 90 \
  -extfile "$t/ext" -out "$t/crt" 2>/dev/null
cat "$t/crt" "$t/key" > "$t/pem"
mv "$t/pem" "$c/intranet.pem"
echo "Congratulations, the certificate of NAME was renewed: $(openssl x509 -in "$c/intranet.pem" -noout -enddate)"
"""

NIGHTLY_BACKUP = r"""#!/bin/sh
# itref lab: the NAS's nightly backup job (a stand-in for the commune's own job), run again by hand:
#   lab-nightly-backup REPOSITORY-NAME   (reads RUNTIME/hosts/nas01/etc/NAME.conf)
set -eu
. "RUNTIME/hosts/nas01/etc/$1.conf"
export RESTIC_CACHE_DIR="RUNTIME/cache/restic" BORG_BASE_DIR="RUNTIME/cache/borg"
case "$KIND" in
  restic) restic --repo "$REPO" --password-file "$PASSFILE" backup --host nas01 "$SOURCE" </dev/null ;;
  borg) BORG_PASSCOMMAND="cat $PASSFILE" borg create --stats "$REPO::nightly-{now:%Y-%m-%dT%H:%M:%S}" "$SOURCE" \
          </dev/null ;;
esac
"""


def install_standins(paths: LabPaths, intranet_address: str) -> None:
    """Write the stand-in tools into the runtime ``bin/`` (mode 0755); return None."""
    paths.bin.mkdir(parents=True, exist_ok=True)
    texts = {"systemctl": SYSTEMCTL, "certbot": CERTBOT.replace("NAME", INTRANET_NAME).replace(
        "ADDRESS", intranet_address), "lab-nightly-backup": NIGHTLY_BACKUP}
    for name, text in texts.items():
        path = paths.bin / name
        path.write_text(text.replace("RUNTIME", str(paths.runtime)), encoding="utf-8")
        path.chmod(0o755)


def make_disk(paths: LabPaths, host: LabHost, user: UserInfo) -> Path:
    """Create the host's empty ext4 image (``DISK_MB``, no reserved blocks, root dir owned by ``user``)."""
    folder = paths.host_dir(host.name)
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / "disk.img"
    image.unlink(missing_ok=True)
    with image.open("wb") as fh:
        fh.truncate(DISK_MB * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", "-L", f"{host.name}-data", "-E",
                    f"root_owner={user.uid}:{user.gid}", str(image)], check=True, capture_output=True)
    units = folder / "units"
    units.mkdir(exist_ok=True)
    os.chown(units, user.uid, user.gid)
    for unit in host.failed_units:
        (units / f"{unit}.failed").write_text("Lab: the print service stopped (exit code 1)\n", encoding="utf-8")
    return image


def sshd_host(paths: LabPaths, host: LabHost, keys: SSHKeys, user: UserInfo, address: str, image: Path) -> SSHDHost:
    """Return the (not yet started) sshd of ``host``, with its hostname, disk and stand-ins on its PATH."""
    setup = ["mount -t tmpfs -o mode=0755,size=1m lab-srv /srv", "mkdir /srv/data",
             f"mount -o loop,nosuid,nodev {image} /srv/data"]
    path = f"{paths.bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    return SSHDHost(keys, user, address=address, hostname=host.name, log_level="INFO", setup=setup,
                    extra_config=[f"SetEnv PATH={path} TZ=Europe/Brussels"],
                    base_dir=paths.host_dir(host.name))


def in_host(pid: int, script: str, *, user: UserInfo | None = None, check: bool = True) -> str:
    """Run ``script`` with ``sh -c`` inside the mount namespace of the host whose sshd is ``pid``; return stdout.

    Runs as root unless ``user`` is given.  Raises subprocess.CalledProcessError (with stderr) when it fails and
    ``check`` is true.
    """
    argv = ["nsenter", "-t", str(pid), "-m", "-u", "--"]
    if user is not None:
        argv += ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups"]
    proc = subprocess.run([*argv, "sh", "-c", script], capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv, proc.stdout, proc.stderr)
    return proc.stdout


def fill_disk(pid: int, path: str, percent: int, user: UserInfo, mtime: str | None = None) -> None:
    """Grow the file ``path`` on the host's /srv/data until the disk is about ``percent`` % full; return None."""
    script = (f"f='{path}'; mkdir -p \"$(dirname \"$f\")\"; rm -f \"$f\"; "
              "set -- $(df -Pk /srv/data | awk 'NR==2 {print $3, $4}'); "
              f"want=$(( ($1 + $2) * {percent} / 100 - $1 )); "
              "if [ $want -gt 0 ]; then fallocate -l ${want}k \"$f\"; fi")
    if mtime:
        script += f"; [ -e \"$f\" ] && touch -d '{mtime}' \"$f\" || true"
    in_host(pid, script, user=user)


def make_dump(paths: LabPaths, user: UserInfo) -> Path:
    """Return a real plain-SQL dump of the CPAS's social database: ``pg_dump`` of a PostgreSQL server started for
    the few seconds it takes (as the lab's user, Unix socket only), written in the runtime folder.

    Raises PostgresUnavailable when PostgreSQL's server is not installed (Debian: postgresql)."""
    from itref.lab.peers.postgres import server

    target = paths.runtime / "base-sociale.sql"
    with server(user) as pg:
        target.write_bytes(pg.dump("base_sociale", "p"))
    os.chown(target, user.uid, user.gid)
    return target


def seed_host(pid: int, host: LabHost, user: UserInfo, dump: Path | None = None) -> None:
    """Put the host's folders and everyday files on its disk, then fill it to its starting level; return None.

    A host with a ``dumps`` folder gets the database dumps of the last four nights: ``dump`` (a real pg_dump, see
    :func:`make_dump`) compressed with gzip, which ``itref backup drill`` reads back."""
    lines = [f"mkdir -p /srv/data/{folder}" for folder in host.folders]
    if "dumps" in host.folders and dump is not None:
        lines.append('for d in 0 1 2 3; do f=/srv/data/dumps/base-sociale-$(date -d "-$d day" +%Y-%m-%d).sql.gz; '
                     f"gzip -1 < '{dump}' > \"$f\"; "
                     'if [ $d = 0 ]; then touch -d "-3 hours" "$f"; else touch -d "-$d day 02:00" "$f"; fi; done')
    in_host(pid, "; ".join(lines), user=user)
    fill_disk(pid, f"/srv/data/{host.folders[0]}/.contenu-habituel", host.disk_used_percent, user)
