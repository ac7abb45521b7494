"""``itref hosts check``: the first-day doctor. Read-only, every host in parallel (one connection each), plus the
directory; one finding per problem, each with what to do.

Modules, one per family of probe: :mod:`network` (DNS, TCP, TLS), :mod:`access` (why a host could not be
opened: host key, login, secret), :mod:`remote` (OS, clock, tools, sudo, administrator: one round trip per host),
:mod:`directory` (LDAPS and the bind account's effective rights), :mod:`needs` (what the configuration asks of
each host), :mod:`engine` (runs it all), :mod:`store` (the last result per host, for the handover pack).
"""
