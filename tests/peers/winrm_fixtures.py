"""Alias of :mod:`itref.lab.peers.winrm_fixtures`: the practice lab (`itref lab`) and the test suite share one
implementation.  Keeps ``from tests.peers.winrm_fixtures import ...`` working (private names too)."""

import sys

from itref.lab.peers import winrm_fixtures as _impl

sys.modules[__name__] = _impl
