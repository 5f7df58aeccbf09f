"""The process tree under a pid, read from /proc (Linux): the soak's memory figures and the tests' worker look-ups."""

from __future__ import annotations

import collections
from pathlib import Path


def children_by_parent() -> dict[int, list[int]]:
    """Every live process's children, by parent pid."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (children, their children, ...)."""
    tree, found, stack = children_by_parent(), [], [pid]
    while stack:
        for child in tree.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
