"""The fork server that starts the query and update workers (`icgraph.server.workers`).

Workers are forked from a small server process that has imported pyoxigraph and the SPARQL
parser once, so a replacement worker starts in milliseconds. `icgraph serve` starts it first
thing (`start_fork_server`), so those imports run on another core while the web application
imports, which is most of the time from `icgraph serve` to the first answer.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing import forkserver

#: Imported once by the fork server; `lifeline` first, so the fork server ends with the web server.
PRELOAD = ["icgraph.server.lifeline", "icgraph.server.workers", "pyoxigraph", "rdflib.plugins.sparql.parser"]


def worker_context() -> multiprocessing.context.ForkServerContext:
    """The multiprocessing context of the workers, with its environment and preloaded modules."""
    # Few malloc arenas: under RLIMIT_AS each arena reserves 64 MiB of address space per thread.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_fork_server() -> None:
    """Start the fork server now (it would otherwise start with the first worker)."""
    worker_context()
    forkserver.ensure_running()
