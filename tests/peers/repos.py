"""The tests' real peer moved to :mod:`itref.lab.peers.repos`: the practice lab (`itref lab`) and the test suite
share one implementation.  This alias keeps ``from tests.peers.repos import ...`` working (private names too)."""

import sys

from itref.lab.peers import repos as _impl

sys.modules[__name__] = _impl
