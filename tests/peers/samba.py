"""The tests' real peer moved to :mod:`itref.lab.peers.samba`: the practice lab (`itref lab`) and the test suite
share one implementation.  This alias keeps ``from tests.peers.samba import ...`` working (private names too)."""

import sys

from itref.lab.peers import samba as _impl

sys.modules[__name__] = _impl
