"""The load generator: ``wrk`` when installed, else an async httpx client; always another process.

`measure` sends the same GET ``?query=`` request over keep-alive connections at a fixed
concurrency for ``duration`` seconds (the python client also stops after ``max_requests``)
and returns requests, requests/s and latency percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

_WRK_SCRIPT = """
wrk.method = "GET"
wrk.path = %(path)s
wrk.headers["Accept"] = %(accept)s
done = function(summary, latency, requests)
  io.write(string.format(
    'BENCHJSON {"requests": %%d, "duration_us": %%d, "errors": %%d, "p50": %%d, "p95": %%d, "p99": %%d}\\n',
    summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "httpx"


def measure(url: str, query: str, accept: str, concurrency: int, duration: float, max_requests: int, timeout: float, use: str | None = None) -> dict:
    use = use or tool()
    if use == "wrk":
        return _wrk(url, query, accept, concurrency, duration, timeout)
    return _python_client(url, query, accept, concurrency, duration, max_requests, timeout)


def _wrk(url: str, query: str, accept: str, concurrency: int, duration: float, timeout: float) -> dict:
    parts = urlsplit(url)
    path = f"{parts.path}?query={quote(query, safe='')}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % {"path": _lua_string(path), "accept": _lua_string(accept)})
    try:
        seconds = max(1, round(duration))
        command = [
            "wrk", "-t", str(min(concurrency, 2)), "-c", str(concurrency), "-d", f"{seconds}s",
            "--timeout", f"{max(1, round(timeout))}s", "-s", script.name, f"{parts.scheme}://{parts.netloc}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + timeout + 30)
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {done.stdout[-500:]} {done.stderr[-500:]}")
    raw = json.loads(line.removeprefix("BENCHJSON "))
    elapsed = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "seconds": elapsed,
        "rps": raw["requests"] / elapsed if elapsed else 0.0,
        "p50_ms": raw["p50"] / 1000,
        "p95_ms": raw["p95"] / 1000,
        "p99_ms": raw["p99"] / 1000,
        "errors": raw["errors"],
        "tool": "wrk",
    }


def _python_client(url, query, accept, concurrency, duration, max_requests, timeout) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".rq", delete=False) as file:
        file.write(query)
    try:
        command = [
            sys.executable, "-m", "bench.loadgen", "--url", url, "--query-file", file.name, "--accept", accept,
            "--concurrency", str(concurrency), "--duration", str(duration), "--requests", str(max_requests),
            "--timeout", str(timeout),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + timeout + 60, check=True)
    finally:
        Path(file.name).unlink(missing_ok=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def _client(url, query, accept, concurrency, duration, max_requests, timeout) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    sent = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        started = time.perf_counter()
        deadline = started + duration

        async def worker():
            nonlocal sent, errors
            while time.perf_counter() < deadline and sent < max_requests:
                sent += 1
                t0 = time.perf_counter()
                try:
                    response = await client.get(url, params={"query": query}, headers={"Accept": accept})
                    await response.aread()
                    if response.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ms = [l * 1000 for l in latencies]
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": statistics.median(ms) if ms else float("nan"),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "errors": errors,
        "tool": "httpx",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("--url", required=True)
    parser.add_argument("--query-file", required=True)
    parser.add_argument("--accept", default="application/sparql-results+json")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    query = Path(args.query_file).read_text(encoding="utf-8")
    result = asyncio.run(_client(args.url, query, args.accept, args.concurrency, args.duration, args.requests, args.timeout))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
