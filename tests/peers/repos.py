"""Alias of :mod:`itref.lab.peers.repos`: the practice lab (`itref lab`) and the test suite share one
implementation.  Keeps ``from tests.peers.repos import ...`` working (private names too)."""

import sys

from itref.lab.peers import repos as _impl

sys.modules[__name__] = _impl
