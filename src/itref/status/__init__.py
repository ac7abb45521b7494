"""``itref status``: what needs a person today, per entity, read from the shared state and the inventory only.

:mod:`itref.status.collect` turns the project's state folder (audit runs, backup records, routine runs, scheduled
changes, waivers, the journal) and this machine's crontab into :class:`~itref.status.model.Item` lines, each with
the command that continues it. It connects to no host and resolves no secret, so it answers at once even when
every machine is down; the renderers are in :mod:`itref.report.status`. The handover pack's "due this week",
"unfinished routines" and "scheduled changes" sections are made from the same items.
"""
