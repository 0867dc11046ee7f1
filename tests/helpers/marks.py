"""Skip marks for what a machine may lack; in the full tier only root and IPv6 may skip."""
import os
import shutil
import socket

import pytest

from helpers.paths import FULL_TIER, SYSTEM_PYTHON


def needs_tools(*tools):
    """Skip in the fast tier where a system tool is missing; run (and fail) in the full tier."""
    missing = [tool for tool in tools if not shutil.which(tool)]
    return pytest.mark.skipif(bool(missing) and not FULL_TIER, reason="not installed: %s" % " ".join(missing))


needs_root = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON) or
                                (not shutil.which("setpriv") and not FULL_TIER),
                                reason="needs root and setpriv to run a process as another user")


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback here")
