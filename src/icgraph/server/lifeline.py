"""Query processes end with the server that started them, even when it is killed outright.

Workers are forked from a fork server (`icgraph.server.processes`), and each worker keeps the
fork server's "alive" pipe open, so neither notices by itself that the server has gone: a
worker busy with a long query would run on, orphaned, until the query ended. Linux can send a
process a signal when its parent dies (``prctl(PR_SET_PDEATHSIG)``): the fork server asks for
SIGKILL when the server dies (this module is its first preloaded import), and every worker asks
for SIGKILL when the fork server dies (`die_with_parent`, first thing in `worker_main`).
"""

from __future__ import annotations

import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent ends; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)
    return True


def _in_fork_server() -> bool:
    return any("multiprocessing.forkserver" in argument for argument in getattr(sys, "orig_argv", ()))


if _in_fork_server():
    die_with_parent()
