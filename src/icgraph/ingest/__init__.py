"""Parse the source documents (``data/sources/``) into plain, frozen records.

One module per document: :mod:`icgraph.ingest.compendium` reads CDADI(2024)39,
:mod:`icgraph.ingest.meeting_report` reads GT-ADI-INT(2020)4. Records carry the
line numbers they come from; the mapping stage (:mod:`icgraph.mapping.sources`)
turns them into RDF.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """Something in a source the parser could not read as expected, with the fix."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class SourceError(ValueError):
    """Raised in strict mode; lists every problem found, not only the first."""

    def __init__(self, path: object, problems: list[Problem] | tuple[Problem, ...]):
        self.problems = tuple(problems)
        listing = "\n".join(f"  {path}, {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {path}:\n{listing}")


__all__ = ["Problem", "SourceError"]
