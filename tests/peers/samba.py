"""Alias of :mod:`itref.lab.peers.samba`: the practice lab (`itref lab`) and the test suite share one
implementation.  Keeps ``from tests.peers.samba import ...`` working (private names too)."""

import sys

from itref.lab.peers import samba as _impl

sys.modules[__name__] = _impl
