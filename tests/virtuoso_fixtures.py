"""A throw-away Virtuoso Open Source server for the remote-store tests (one per test session).

Debian's ``virtuoso-opensource`` package provides ``virtuoso-t``. When it is missing and the tests
run as root, the fixture installs it (``apt-get install -y virtuoso-opensource``); the tests are
skipped, saying why, only when it cannot be installed, and never under CI (CI=true: a failure). The server runs on 127.0.0.1 with a
temporary database folder and a generated virtuoso.ini (free ports for SQL and HTTP). Queries
go to /sparql; writes to /sparql-auth and /sparql-graph-crud-auth as ``dba`` (HTTP digest;
password ``dba``, the default of a new database, reachable only from this machine).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.systems import virtuoso_ini
from endpoint_fixtures import free_port

APT_INSTALL = ["apt-get", "install", "-y", "--no-install-recommends", "virtuoso-opensource"]
USER, PASSWORD = "dba", "dba"
#: Virtuoso's own limit per request (queries and updates), seconds; icgraph's time limit cuts queries first.
UPDATE_SECONDS = 90


@dataclass
class Virtuoso:
    url: str  # http://127.0.0.1:PORT
    process: subprocess.Popen
    folder: Path

    @property
    def sparql(self) -> str:
        return self.url + "/sparql"

    @property
    def store(self) -> str:
        """The icgraph --store value."""
        return "sparql+" + self.sparql

    @property
    def env(self) -> dict[str, str]:
        """Environment for icgraph commands that write to this Virtuoso."""
        return {
            "ICGRAPH_STORE_UPDATE_URL": self.url + "/sparql-auth",
            "ICGRAPH_STORE_USER": USER,
            "ICGRAPH_STORE_PASSWORD": PASSWORD,
            # Where the release loaded into this store is recorded (build/current), apart from the checkout's.
            "ICGRAPH_BUILD_DIR": str(self.folder / "icgraph-build"),
        }


def virtuoso_binary() -> str | None:
    """``virtuoso-t``, installing Debian's package first when possible; None when it cannot be had."""
    found = shutil.which("virtuoso-t")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-q"], APT_INSTALL):
        if subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900).returncode:
            return None
    return shutil.which("virtuoso-t")


def start_virtuoso(folder: Path, timeout: float = 120, **settings) -> Virtuoso:
    """A Virtuoso on a new database in ``folder``; ``settings``: `bench.systems.virtuoso_ini`'s, by name."""
    binary = virtuoso_binary()
    if binary is None:
        reason = (
            "Virtuoso Open Source is not installed and could not be installed "
            f"(needs root and Debian's package: {' '.join(APT_INSTALL)})"
        )
        # A developer without root may skip; CI runs as root with apt, so there it is a failure.
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    folder.mkdir(parents=True, exist_ok=True)
    http_port = free_port()
    ini = folder / "virtuoso.ini"
    # Virtuoso's MaxQueryExecutionTime is also the transaction time limit of an update (SR171
    # "Transaction timed out"): a load's switch moves every graph and the merge in one request,
    # which on a loaded two-core machine takes more than the 15 s that suit a runaway query.
    ini.write_text(virtuoso_ini(folder, free_port(), http_port, **{"max_seconds": UPDATE_SECONDS, **settings}), encoding="utf-8")
    log = open(folder / "stdout.log", "wb")
    process = subprocess.Popen([binary, "+foreground", "+configfile", str(ini)], cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    server = Virtuoso(f"http://127.0.0.1:{http_port}", process, folder)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log.close()
            raise RuntimeError("Virtuoso exited:\n" + (folder / "virtuoso.log").read_text(errors="replace")[-3000:])
        try:
            if httpx.get(server.sparql, params={"query": "ASK {}"}, timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_virtuoso(server)
            raise RuntimeError(f"Virtuoso did not answer within {timeout:g} s; see {folder / 'virtuoso.log'}")
        time.sleep(0.25)


def stop_virtuoso(server: Virtuoso) -> None:
    server.process.terminate()
    try:
        server.process.wait(30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)
