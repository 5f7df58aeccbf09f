"""Answers kept in the web process until the next release: an LRU bounded in bytes (cachetools).

A reader's reply (the serialised result, or the pickled values of a server query) is a
function of the data, the query and how it is asked. So a reply is kept under the key
(release id, kind of job, normalised query text, bindings, format / Accept, dataset, base IRI):
`StorePool.read` looks there first. The release id (`StorePool.release_id`) changes with
every release and every write of a server that takes updates, so an answer of a previous
release is never served: it is simply never asked for again, and falls out as the LRU fills.

Not kept: updates and Graph Store requests (only ``query`` and ``prepared`` jobs are), errors,
replies larger than the whole cache, and queries whose answer is not a function of the data
(NOW, RAND, UUID, STRUUID, BNODE: `icgraph.server.caching.not_a_function_of_the_data`).
Hits, misses and evictions are counted for /metrics (`icgraph.server.metrics`).
"""

from __future__ import annotations

import functools
import hashlib
import json

from cachetools import LRUCache

from icgraph.server.caching import not_a_function_of_the_data
from icgraph.sparql.text import normalised

#: The jobs whose replies are kept.
CACHED_OPS = ("query", "prepared")
#: What a kept reply costs beyond its body (the key, the dict): so many tiny answers still count.
ENTRY_OVERHEAD = 256
#: Query texts up to this long have their normalised digest remembered (`_query_digest`): a hit then
#: costs a dictionary lookup instead of a scan of the text (0.2-0.3 ms for a 2 KB library query).
MEMO_TEXT_CHARS = 16 * 1024


class _CountingLRU(LRUCache):
    def __init__(self, maxsize: int, getsizeof):
        super().__init__(maxsize=maxsize, getsizeof=getsizeof)
        self.evictions = 0

    def popitem(self):
        self.evictions += 1
        return super().popitem()


def _digest(op: str, text: str) -> str | None:
    """The digest of the normalised text; None for a query whose answer is not a function of the data."""
    if op == "query" and not_a_function_of_the_data(text):
        return None
    return hashlib.sha256(normalised(text).encode("utf-8")).hexdigest()


_memo_digest = functools.lru_cache(maxsize=1024)(_digest)


def _query_digest(op: str, text: str) -> str | None:
    return _memo_digest(op, text) if len(text) <= MEMO_TEXT_CHARS else _digest(op, text)


def _size(reply: dict) -> int:
    return len(reply.get("body") or b"") + sum(len(part) for part in reply.get("parts") or ()) + ENTRY_OVERHEAD


class ResultCache:
    """Replies by `key`, at most ``max_bytes`` of them (0: nothing is kept)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max(0, int(max_bytes))
        self._entries = _CountingLRU(max(1, self.max_bytes), _size)
        self.hits = 0
        self.misses = 0

    @property
    def evictions(self) -> int:
        return self._entries.evictions

    @property
    def size(self) -> int:
        return int(self._entries.currsize)

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, release_id: str, job: dict) -> str | None:
        """The key of ``job`` in release ``release_id``, or None when its reply is not to be kept."""
        if self.max_bytes <= 0 or job.get("op") not in CACHED_OPS:
            return None
        digest = _query_digest(job["op"], job.get("query") or "")
        if digest is None:
            return None
        described = [
            release_id, job["op"], digest,
            sorted((name, str(term)) for name, term in (job.get("substitutions") or {}).items()),
            job.get("format"), job.get("accept"), sorted(job.get("hide") or ()), list(job.get("page") or ()),
            job.get("default_graphs") or [], job.get("named_graphs") or [], job.get("base_iri"),
        ]
        return hashlib.sha256(json.dumps(described).encode("utf-8")).hexdigest()

    def get(self, key: str | None, count_miss: bool = True) -> dict | None:
        """The kept reply of ``key``, or None. ``count_miss=False``: a caller that then goes through
        `StorePool.read`, which counts the miss itself (the replay in `icgraph.server.caching`)."""
        if key is None:
            return None
        reply = self._entries.get(key)
        if reply is not None:
            self.hits += 1
        elif count_miss:
            self.misses += 1
        return reply

    def put(self, key: str | None, reply: dict) -> None:
        if key is None or _size(reply) > self.max_bytes:
            return
        self._entries[key] = reply
