"""Alias of :mod:`itref.lab.peers.winrm_endpoint`: the practice lab (`itref lab`) and the test suite share one
implementation.  Keeps ``from tests.peers.winrm_endpoint import ...`` working (private names too)."""

import sys

from itref.lab.peers import winrm_endpoint as _impl

sys.modules[__name__] = _impl
