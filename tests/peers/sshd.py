"""Alias of :mod:`itref.lab.peers.sshd`: the practice lab (`itref lab`) and the test suite share one
implementation.  Keeps ``from tests.peers.sshd import ...`` working (private names too)."""

import sys

from itref.lab.peers import sshd as _impl

sys.modules[__name__] = _impl
