"""Real peers started on this machine: a Samba AD DC, OpenSSH sshd hosts, a WS-Management endpoint, restic and
borg repositories.  The test suite's fixtures and ``itref lab`` both use them (one implementation)."""
