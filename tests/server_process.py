"""A test server in a process group of its own: wait until it answers, stop it and all it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx


def wait_until_up(process: subprocess.Popen, url: str, seconds: float = 90) -> None:
    """Return once GET ``url`` answers 200; RuntimeError if the process ends or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start (exit code {process.poll()})")
        time.sleep(0.3)


def stop_group(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM to the server's process group (its readers too), SIGKILL after ``grace`` seconds."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
