"""Synthetic icgraph datasets at k times the real graph, streamed as N-Quads.

The model is the real build itself (``build/icgraph.nq``), so every shape statistic —
participants per practice, the mix of levels and roles, memberships per network,
partnerships, places, references, texts — is the real one, not a guess. A dataset at
scale k is k *shards*; each shard is a copy of every entity the sources and the curation
describe (practices, actors, participations, memberships, partnerships, the meeting
report), with:

- its own IRIs: ``practice:SLUG`` becomes ``practice:SLUG--s7`` (shard 0 keeps the real
  IRIs, so the library's default parameters still find something);
- its own labels: titles and names get `` (s7)`` appended (shard 0 unchanged), so the
  uniqueness shapes hold;
- its own calendar: every year of the shard moves by a delta drawn from the seed
  (-3..+3, shard 0 included), so year-filtered queries see a spread.

Shared by every shard, and written once: the ontology, the SKOS vocabularies, the places
(geography does not grow with the number of practices), the source documents and the
provenance graph.

graph:inferred is the real inferred graph renamed the same way, so a 1000x dataset needs
no inference run. That is exact for everything the rules derive except the cooperation
edges: their IRIs hash the two agents' IRIs, and which of a pair is "from" follows the
IRIs' order, so in a renamed shard about 0.03 % of the inferred triples differ from what
icgraph.infer would derive (an edge gets another hash; a few pairs come out the other way
round). ``python -m bench`` runs icgraph.infer on the generated asserted graphs at 1x and
10x and reports the difference next to the inference time.

Usage::

    python -m bench.generate --scale 10 --seed 1 -o build/bench/x10.nq
    python -m bench.generate --scale 1000 --shards 417 -o sample.nq   # one shard, for validation
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from icgraph.config import Settings
from icgraph.namespaces import (
    AREA,
    DCTERMS,
    FAMILY,
    FOAF,
    ID,
    INFERRED_GRAPH,
    LEVEL,
    MROLE,
    ONTOLOGY_GRAPH,
    PKIND,
    PLACE,
    PRINCIPLE,
    PROVENANCE_GRAPH,
    PTYPE,
    RDFS,
    ROLE,
    SKOS,
    SOURCE,
    TARGET,
    VOCABULARIES_GRAPH,
)

#: Graphs that hold no instance data: written once, whatever the scale.
SHARED_GRAPHS = {str(ONTOLOGY_GRAPH), str(VOCABULARIES_GRAPH), str(PROVENANCE_GRAPH)}
#: IRIs under id: that name shared things (vocabularies, geography, sources, the build).
SHARED_PREFIXES = tuple(str(ns) for ns in (LEVEL, ROLE, MROLE, PRINCIPLE, PTYPE, AREA, TARGET, PKIND, FAMILY, PLACE, SOURCE)) + (
    str(ID.build),
)
#: Literals that name a thing; a shard tags them so that names stay unique.
LABEL_PREDICATES = {str(p) for p in (SKOS.prefLabel, SKOS.altLabel, DCTERMS.title, RDFS.label, FOAF.name)}
GYEAR = "http://www.w3.org/2001/XMLSchema#gYear"
YEAR_SHIFT = 3

# Template pieces that vary per shard.
_SUFFIX, _TAG = 0, 1


@dataclass
class Template:
    """The real dataset split into what is written once and what each shard repeats."""

    shared: list[str] = field(default_factory=list)  # N-Quads lines
    shard: list[list[str | int | tuple]] = field(default_factory=list)  # one piece list per quad
    inferred: list[bool] = field(default_factory=list)  # per shard quad: is it in graph:inferred
    shared_inferred: list[bool] = field(default_factory=list)

    @property
    def quads_per_shard(self) -> int:
        return len(self.shard)


def default_source() -> Path:
    """The N-Quads dump of the current release of the default store (ICGRAPH_STORE)."""
    from icgraph.release import current_release

    settings = Settings()
    release = current_release(settings.store, settings.build_dir)
    return release.dump("icgraph.nq") if release is not None else settings.build_dir / "icgraph.nq"


def per_instance(iri: str) -> bool:
    """True for an IRI a shard copies: anything under id: that is not a shared thing."""
    return iri.startswith(str(ID)) and not iri.startswith(SHARED_PREFIXES)


def load_template(source: Path | None = None) -> Template:
    """Read the real build's N-Quads dump into a Template."""
    source = Path(source or default_source())
    if not source.is_file():
        sys.exit(f"no dump at {source}; run `icgraph build` (or `make build`) first")
    template = Template()
    with source.open("rb") as stream:
        quads = sorted(ox.parse(stream, format=ox.RdfFormat.N_QUADS), key=str)  # a stable order
    for quad in quads:
        graph = quad.graph_name.value if isinstance(quad.graph_name, ox.NamedNode) else ""
        inferred = graph == str(INFERRED_GRAPH)
        terms = (quad.subject, quad.predicate, quad.object)
        if graph in SHARED_GRAPHS or not any(isinstance(t, ox.NamedNode) and per_instance(t.value) for t in terms):
            template.shared.append(f"{quad} .\n")
            template.shared_inferred.append(inferred)
            continue
        pieces: list[str | int | tuple] = []
        for position, term in enumerate(terms):
            if isinstance(term, ox.NamedNode) and per_instance(term.value):
                iri, hash_, fragment = term.value.partition("#")
                pieces += [f"<{iri}", _SUFFIX, f"{hash_}{fragment}> "]
            elif isinstance(term, ox.Literal) and position == 2 and term.datatype.value == GYEAR and term.value.isdigit():
                pieces += [("year", int(term.value)), f"^^<{GYEAR}> "]
            elif isinstance(term, ox.Literal) and position == 2 and quad.predicate.value in LABEL_PREDICATES:
                text = str(term)
                end = text.rindex('"')  # the closing quote; language tag or datatype follow it
                pieces += [text[:end], _TAG, text[end:] + " "]
            else:
                pieces.append(f"{term} ")
        pieces.append(f"{quad.graph_name} .\n")
        template.shard.append(_merge(pieces))
        template.inferred.append(inferred)
    return template


def _merge(pieces: list) -> list:
    """Join adjacent fixed strings, so rendering a shard touches as few pieces as possible."""
    merged: list = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return merged


def year_shifts(scale: int, seed: int) -> list[int]:
    """The calendar delta of each shard, from the seed."""
    rng = random.Random(seed)
    return [rng.randint(-YEAR_SHIFT, YEAR_SHIFT) for _ in range(scale)]


def render_shard(template: Template, shard: int, shift: int, graphs: str = "all") -> Iterator[str]:
    """The N-Quads lines of one shard."""
    suffix = f"--s{shard}" if shard else ""
    tag = f" (s{shard})" if shard else ""
    for pieces, inferred in zip(template.shard, template.inferred):
        if graphs == "asserted" and inferred:
            continue
        out = []
        for piece in pieces:
            if piece.__class__ is str:
                out.append(piece)
            elif piece == _SUFFIX:
                out.append(suffix)
            elif piece == _TAG:
                out.append(tag)
            else:
                out.append(f'"{piece[1] + shift:04d}"')
        yield "".join(out)


def generate(
    out: IO[str],
    scale: int,
    seed: int = 1,
    *,
    template: Template | None = None,
    graphs: str = "all",
    shards: Iterable[int] | None = None,
) -> int:
    """Write the dataset at ``scale`` (or only ``shards`` of it) as N-Quads to ``out``; return the line count.

    ``graphs="asserted"`` leaves out graph:inferred (what the build's infer stage would add).
    """
    template = template or load_template()
    shifts = year_shifts(scale, seed)
    written = 0
    for line, inferred in zip(template.shared, template.shared_inferred):
        if graphs == "asserted" and inferred:
            continue
        out.write(line)
        written += 1
    for shard in range(scale) if shards is None else shards:
        if not 0 <= shard < scale:
            raise ValueError(f"shard {shard} is outside 0..{scale - 1}")
        batch = list(render_shard(template, shard, shifts[shard], graphs))
        out.writelines(batch)
        written += len(batch)
    return written


def generate_file(path: Path, scale: int, seed: int = 1, **options) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        count = generate(out, scale, seed, **options)
    partial.replace(path)
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1, help="how many times the real graph (default 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--source", type=Path, default=None, help="the real build's N-Quads dump (default: the current release's dumps/icgraph.nq)")
    parser.add_argument("--graphs", choices=["all", "asserted"], default="all", help="asserted: leave out graph:inferred")
    parser.add_argument("--shards", type=str, default=None, help="only these shards, e.g. 0,417 (a sample to validate)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    shards = [int(s) for s in args.shards.split(",")] if args.shards else None
    count = generate_file(args.output, args.scale, args.seed, template=load_template(args.source), graphs=args.graphs, shards=shards)
    print(f"{count} quads -> {args.output}")


if __name__ == "__main__":
    main()
