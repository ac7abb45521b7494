"""``itref lab``: a practice lab that looks like a small commune, made of the same real peers as the test suite.

Layout: :mod:`~itref.lab.peers` (the Samba DC, sshd hosts, WS-Management endpoint and repositories the tests use
too), :mod:`~itref.lab.world` (the fictional commune: entities, people, hosts, backups), :mod:`~itref.lab.supervisor`
(the process that runs it all), :mod:`~itref.lab.control` (up, status, down), :mod:`~itref.lab.scenarios` (break and
reset), :mod:`~itref.lab.files` (the lab's inventory and playbooks), :mod:`~itref.lab.hosts`,
:mod:`~itref.lab.backups`, :mod:`~itref.lab.tls` and :mod:`~itref.lab.windows` (each part of the commune).
"""
