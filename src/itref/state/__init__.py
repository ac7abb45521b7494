"""The project's shared memory: what was done, decided and left half-done, kept beside the inventory.

``state/`` (or the inventory's ``state:``) holds plain text meant to be read, diffed and merged, so that the
folder a commune hands over (a shared drive, or a git repository several people clone) carries it:

* ``journal/YYYY-MM/<writer>.jsonl`` — every action, append-only (:mod:`itref.state.records`);
* ``backups/YYYY-MM/<writer>.jsonl`` — backup checks, verifies and restore drills, append-only;
* ``audits/YYYY-MM/<time>.<scope>.<run>.jsonl`` — one file per audit run, written once;
* ``waivers/``, ``departed/``, ``routines/`` — one YAML document per waiver, offboarded account, routine run
  (:mod:`itref.state.documents`).

Each process appends only to its own *writer* files (account, machine and clone in the name), so two people,
two machines or two clones never write the same file, and ``git pull`` never meets a conflict there. What only
serves one machine (caches, locks) lives in the XDG cache folder instead (:meth:`StateFolder.cache_dir`).
"""
