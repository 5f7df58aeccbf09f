"""Map the curation layer (``data/curation/*.yaml``) to RDF through its JSON-LD context.

The YAML files are what a domain expert reads and corrects; this module only
(1) checks that every entry uses known keys and names entities that exist,
(2) gives entries the ``@id`` the format implies (participations, groups,
memberships, funding amounts and relations, outcomes, date statements) and (3) hands
the result to the JSON-LD parser with the one context, ``ontology/context.jsonld``. It builds no
triple by hand. ``cited_lines_without_name`` reads the sources to check that an actor's
cited lines name it (the graph does not hold the source text, so this is no SHACL shape).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rdflib import Graph

from icgraph.mapping.context import context
from icgraph.mapping.places import enrich_places
from icgraph.namespaces import COMPENDIUM, PREFIXES, SOURCE
from icgraph.slugs import slugify

#: libyaml's safe loader when PyYAML was built with it (ten times faster), else the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SECTIONS = ("places", "actors", "programmes", "practices", "memberships", "partnerships", "affiliations")

#: Keys a curator may write in each section (beyond the common ones); nested objects have their own.
_SECTION_KEYS = {
    "places": {"id", "kind", "name", "alias", "originalName", "country", "within", "iso", "lines", "source", "note", "ambiguity"},
    "actors": {"id", "kind", "name", "alias", "originalName", "level", "family", "country", "place", "parent", "lines", "source", "note", "ambiguity"},
    "programmes": {"id", "name", "alias", "originalName", "operator", "lines", "source", "note", "ambiguity"},
    "practices": {"practice", "implementedIn", "targetGroups", "participants", "funding", "fundedThrough", "relations", "outcomes", "participationNote", "leadNote", "start", "end", "ongoing", "note", "ambiguity", "lines", "source"},
    "memberships": {"member", "organization", "role", "start", "end", "lines", "source", "note", "ambiguity", "represents", "position"},
    "partnerships": {"id", "name", "kind", "partners", "practice", "start", "end", "lines", "source", "note", "ambiguity", "alias", "originalName"},
    "affiliations": {"person", "organization", "lines", "source", "note"},
}
_PARTICIPANT_KEYS = {"actor", "group", "role", "lines", "source", "note", "ambiguity"}
_GROUP_KEYS = {"name", "kind", "level", "note"}
_FUNDING_KEYS = {"amount", "currency", "asPrinted", "funder", "lines", "source", "note", "ambiguity"}
_OUTCOME_KEYS = {"text", "value", "unit", "lines", "source", "note", "ambiguity"}
_FUNDED_THROUGH_KEYS = {"funder", "programme", "recipient", "purpose", "lines", "source", "note", "ambiguity"}
#: The relations a practice's text states (``relations:``), each named by its one key: the ontology term it asserts.
#: ``supports`` is said of an organisation (``by:``), every other of the practice itself.
RELATION_TERMS = ("establishes", "carriedOutBy", "buildsOn", "inspiredBy", "supports", "disseminationChannel")
_RELATION_KEYS = {*RELATION_TERMS, "by", "lines", "source", "note", "ambiguity"}
#: A practice's `start:`, `end:` and `ongoing:` (one statement or a list of them, when lines disagree).
_DATE_KEYS = {"start": "year", "end": "year", "ongoing": "value"}
_DATE_STATEMENT_KEYS = {"year", "value", "lines", "computedFrom", "source", "note", "ambiguity"}

_CURIE = re.compile(r"^(actor|place|practice|partnership|programme):([A-Za-z0-9._-]+)$")


class CurationError(ValueError):
    """The curation files cannot be mapped; the message lists every problem with its file and entry."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("data/curation has %d problem(s):\n  " % len(problems) + "\n  ".join(problems))


@dataclass
class Curation:
    """The curation files, merged: one list of entries per section, each entry remembering its file."""

    entries: dict[str, list[tuple[str, dict]]] = field(default_factory=lambda: {s: [] for s in SECTIONS})

    def ids(self, section: str, key: str = "id") -> set[str]:
        return {entry[key] for _, entry in self.entries[section] if key in entry}


def read_curation(folder: Path) -> Curation:
    """Read every ``*.yaml`` file of ``folder`` (sorted, so the result is deterministic)."""
    curation = Curation()
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}
        except yaml.YAMLError as error:
            problems.append(f"{path.name}: not valid YAML: {error}")
            continue
        if not isinstance(document, dict):
            problems.append(f"{path.name}: expected a mapping of sections ({', '.join(SECTIONS)})")
            continue
        for section, items in document.items():
            if section not in SECTIONS:
                problems.append(f"{path.name}: unknown section '{section}'; use one of {', '.join(SECTIONS)}")
                continue
            for item in items or []:
                if not isinstance(item, dict):
                    problems.append(f"{path.name}: {section}: entry {item!r} is not a mapping")
                    continue
                curation.entries[section].append((path.name, item))
    if problems:
        raise CurationError(problems)
    return curation


def map_curation(
    folder: Path, known_practices: Iterable[str] = (), extra_known: Iterable[str] = (), cache_dir: Path | None = None
) -> Graph:
    """Map ``data/curation`` to one RDF graph (the build stores it as ``graph:curation``).

    ``known_practices`` are the ``practice:SLUG`` CURIEs the parser produced; ``extra_known`` are further
    CURIEs defined elsewhere (e.g. persons of the meeting report). A reference to anything undefined is an error.
    """
    curation = read_curation(folder)
    problems = _check(curation, set(known_practices), set(extra_known))
    if problems:
        raise CurationError(problems)

    places_cache = cache_dir / "places.json" if cache_dir is not None else None
    enrich_places([entry for _, entry in curation.entries["places"]], cache=places_cache)

    graph = Graph()
    for section in SECTIONS:
        nodes = [_to_jsonld(section, entry) for _, entry in curation.entries[section]]
        if not nodes:
            continue
        document = {"@context": context(section), "@graph": nodes}
        graph.parse(data=json.dumps(document), format="json-ld")
    return graph


def _source(entry: dict) -> str:
    source = entry.get("source")
    if source is None:
        return str(COMPENDIUM)
    return str(SOURCE[source.removeprefix("source:")])


def _local(curie: str) -> str:
    return curie.split(":", 1)[1]


def _practice_iri(curie: str) -> str:
    return "https://w3id.org/icgraph/id/practice/" + _local(curie)


_PREFIXED = re.compile(r"^([a-z]+):([^\s/][^\s]*)$")


def _expand(value):
    """Expand CURIEs (``level:local``) to IRIs before JSON-LD sees them.

    The context's term names (``level``, ``place``, ``role``...) are also prefix names, and in JSON-LD a
    term definition shadows a prefix of the same name; expanding first keeps the YAML readable.
    """
    if isinstance(value, str):
        match = _PREFIXED.match(value)
        if match and match.group(1) in PREFIXES:
            return PREFIXES[match.group(1)] + match.group(2)
        return value
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: (v if k in _VERBATIM_KEYS else _expand(v)) for k, v in value.items()}
    return value


#: Keys whose values are text, never CURIEs (a note may well start with "Note: ...").
_VERBATIM_KEYS = {"name", "alias", "note", "ambiguity", "text", "asPrinted", "participationNote", "leadNote", "computedFrom", "purpose", "fundingPurpose", "position", "unit", "originalName"}


def _to_jsonld(section: str, entry: dict) -> dict:
    node = _as_terms(_shape(section, entry))
    return _expand({_SECTION_TERMS.get(section, {}).get(k, k): v for k, v in node.items()})


#: YAML keys whose term in the one context (ontology/context.jsonld) has another name, because the
#: YAML word means something else elsewhere: ``source`` is also a prefix, a participant's ``role`` and
#: a funding's ``purpose`` are ``org:role`` and ``icg:purpose`` in the source documents' records, a
#: partnership's ``practice`` and an affiliation's ``organization`` are a practice's id and a membership's organisation.
_TERMS = {"source": "derivedFrom"}
_NESTED_TERMS = {"participants": {"role": "participationRole"}, "fundedThrough": {"purpose": "fundingPurpose"}}
#: Keys of one section whose YAML word names another term elsewhere (a practice's own ``practice:`` is its id).
_SECTION_TERMS = {"partnerships": {"practice": "withinPractice"}, "affiliations": {"organization": "memberOf"}}


def _as_terms(node):
    """The node with each YAML key under its term's name in the one context."""
    if isinstance(node, list):
        return [_as_terms(n) for n in node]
    if not isinstance(node, dict):
        return node
    renamed = {}
    for key, value in node.items():
        value = _as_terms(value)
        if key in _NESTED_TERMS and isinstance(value, list):
            value = [{_NESTED_TERMS[key].get(k, k): v for k, v in item.items()} if isinstance(item, dict) else item for item in value]
        renamed[_TERMS.get(key, key)] = value
    return renamed


def _shape(section: str, entry: dict) -> dict:
    """Give an entry the ``@id``s and ``@type``s its section implies; leave the rest to the context."""
    node = dict(entry)
    node["source"] = _source(entry)
    if section == "places":
        node.setdefault("kind", "Place")
        # A place lies in its parent region, or else in its country: the hierarchy has no gaps.
        if "within" not in node and node.get("country") and node["kind"] != "Country":
            node["within"] = node["country"]
    if section == "practices":
        base = _practice_iri(entry["practice"])
        node["participants"] = [_participation(base, entry["practice"], p) for p in entry.get("participants") or []]
        node["funding"] = [
            {**f, "@id": f"{base}#funding-{n}", "@type": "schema:MonetaryAmount", "source": _source(f)}
            for n, f in enumerate(entry.get("funding") or [], start=1)
        ]
        node["outcomes"] = [
            {**o, "@id": f"{base}#outcome-{n}", "@type": "QuantitativeOutcome", "source": _source(o)}
            for n, o in enumerate(entry.get("outcomes") or [], start=1)
        ]
        node["fundedThrough"] = [
            {**f, "@id": f"{base}#funded-{n}", "@type": "Funding", "source": _source(f)}
            for n, f in enumerate(entry.get("fundedThrough") or [], start=1)
        ]
        node.update(_dates(base, entry))
        node.update(_relations(base, entry))
    elif section == "memberships":
        role = _local(entry["role"])
        node["@id"] = (
            f"https://w3id.org/icgraph/id/membership/{_local(entry['organization'])}/{_local(entry['member'])}/{role}"
        )
        node["@type"] = "org:Membership"
    elif section == "programmes":
        node["@type"] = "FundingProgramme"
    elif section == "partnerships":
        node["@type"] = "Partnership"
        if "kind" in node:
            node["partnershipKind"] = node.pop("kind")
    return node


def _relations(base: str, entry: dict) -> dict:
    """The stated relations of a practice entry: each one a direct triple (``practice icg:establishes X``,
    ``actor icg:supports Y``) for queries, and an ``rdf:Statement`` restating it with the lines that say so.

    The statement is ``practice:SLUG#rel-TERM-OBJECT`` (``#rel-supports-BY-OBJECT``), so it is a part of the
    practice's description, and ``icg:statedIn`` points back at the practice whose text states it.
    """
    direct: dict[str, list] = {}
    statements = []
    for relation in entry.get("relations") or []:
        term = next(k for k in RELATION_TERMS if k in relation)
        target = relation[term]
        if term == "supports":
            subject: dict | str = {"@id": relation["by"], "supports": [target]}
            ident = f"{base}#rel-supports-{_local(relation['by'])}-{_local(target)}"
        else:
            subject = entry["practice"]
            direct.setdefault(term, []).append(target)
            ident = f"{base}#rel-{term}-{_local(target)}"
        statements.append(
            {
                **{k: v for k, v in relation.items() if k in ("lines", "note", "ambiguity")},
                "@id": ident,
                "@type": "rdf:Statement",
                "statementSubject": subject,
                "statementPredicate": f"icg:{term}",
                "statementObject": target,
                "source": _source(relation),
            }
        )
    return {**direct, "relations": statements} if statements else {}


def date_statements(entry: dict) -> list[tuple[str, dict]]:
    """A practice entry's `start:`, `end:` and `ongoing:` as (key, statement) pairs; a key may hold one statement or a list."""
    pairs = []
    for key in _DATE_KEYS:
        value = entry.get(key)
        for statement in value if isinstance(value, list) else [value] if value is not None else []:
            pairs.append((key, statement))
    return pairs


def _dates(base: str, entry: dict) -> dict:
    """The practice's date statements (``#start-2013``, ``#end-2024``, ``#ongoing``), and the years they settle.

    A statement read with `ambiguity:` stays a visible reading of its lines but does not set the practice's
    own year: the curator has not settled it, and the graph must not pick silently.
    """
    settled: dict = {}
    statements = []
    for key, statement in date_statements(entry):
        if key == "ongoing":
            value = bool(statement["value"])
            ident, values = f"{base}#ongoing" if value else f"{base}#ended", {"ongoing": value}
        else:
            value = str(statement["year"])
            ident, values = f"{base}#{key}-{value}", {key: value}
        statements.append(
            {
                **{k: v for k, v in statement.items() if k not in ("year", "value")},
                **values,
                "@id": ident,
                "@type": "DateStatement",
                "source": _source(statement),
            }
        )
        if "ambiguity" not in statement:
            settled.setdefault(key, value)
    # A null value leaves the key out of the JSON-LD: the entry's own `start:`/`end:`/`ongoing:` are replaced.
    return {**{key: settled.get(key) for key in _DATE_KEYS}, "dateStatements": statements}


def _participation(base: str, practice: str, participant: dict) -> dict:
    node = {k: v for k, v in participant.items() if k != "group"}
    role = _local(participant["role"])
    if "group" in participant:
        group = participant["group"]
        group_id = f"{base}#group-{slugify(group['name'])}"
        node["group"] = {
            "@id": group_id,
            "@type": "ActorGroup",
            "name": group["name"],
            "memberKind": group["kind"],
            "level": group["level"],
            **({"note": group["note"]} if "note" in group else {}),
        }
        agent = "group-" + slugify(group["name"])
    else:
        agent = _local(participant["actor"])
    node["@id"] = f"{base}#p-{agent}-{role}"
    node["@type"] = "Participation"
    node["ofPractice"] = practice
    node["source"] = _source(participant)
    return node


def _check(curation: Curation, known_practices: set[str], extra_known: set[str]) -> list[str]:
    """Every problem with the curation files: unknown keys, duplicate ids, dangling references."""
    problems: list[str] = []
    defined = curation.ids("places") | curation.ids("actors") | curation.ids("partnerships") | curation.ids("programmes") | extra_known
    defined |= known_practices
    seen: dict[str, str] = {}
    for section in ("places", "actors", "programmes", "partnerships"):
        for filename, entry in curation.entries[section]:
            ident = entry.get("id")
            if not ident:
                problems.append(f"{filename}: {section}: entry without 'id': {entry!r:.80}")
                continue
            if ident in seen:
                problems.append(f"{filename}: {ident} is already defined in {seen[ident]}; keep one entry and merge the other into it")
            seen[ident] = filename
    curated_practices: dict[str, str] = {}
    for filename, entry in curation.entries["practices"]:
        practice = entry.get("practice", "?")
        if practice in curated_practices:
            problems.append(f"{filename}: {practice} is already curated in {curated_practices[practice]}; merge the two entries")
        curated_practices[practice] = filename
        if known_practices and practice not in known_practices:
            problems.append(f"{filename}: {practice} is not a practice of the compendium; use a slug from the parsed table of contents")

    def refs(filename: str, where: str, value) -> None:
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str) and _CURIE.match(v) and v not in defined:
                problems.append(f"{filename}: {where} names {v}, which no curation file defines; define it or fix the id")

    identity = {"practices": "practice", "affiliations": "person"}
    for section in SECTIONS:
        allowed = _SECTION_KEYS[section]
        for filename, entry in curation.entries[section]:
            label = entry.get("id") or entry.get("practice") or entry.get("member") or entry.get("person") or "?"
            for key in entry:
                if key not in allowed:
                    problems.append(f"{filename}: {section}: {label}: unknown key '{key}'; allowed: {', '.join(sorted(allowed))}")
            for key, value in entry.items():
                if key != identity.get(section, "id"):
                    refs(filename, f"{label}.{key}", value)
            if section == "practices":
                for p in entry.get("participants") or []:
                    unknown = set(p) - _PARTICIPANT_KEYS
                    if unknown:
                        problems.append(f"{filename}: {label}: participant has unknown key(s) {sorted(unknown)}")
                    if ("actor" in p) == ("group" in p):
                        problems.append(f"{filename}: {label}: a participant needs exactly one of 'actor' or 'group': {p!r:.80}")
                    if "role" not in p:
                        problems.append(f"{filename}: {label}: participant {p.get('actor') or p.get('group')} has no role")
                    if "group" in p:
                        group = p["group"]
                        if not isinstance(group, dict) or not {"name", "kind", "level"} <= set(group) or set(group) - _GROUP_KEYS:
                            problems.append(f"{filename}: {label}: group needs name, kind and level (only): {group!r:.80}")
                    refs(filename, f"{label}.participants", p.get("actor"))
                for f in entry.get("funding") or []:
                    if set(f) - _FUNDING_KEYS:
                        problems.append(f"{filename}: {label}: funding has unknown key(s) {sorted(set(f) - _FUNDING_KEYS)}")
                    refs(filename, f"{label}.funding", f.get("funder"))
                for f in entry.get("fundedThrough") or []:
                    if set(f) - _FUNDED_THROUGH_KEYS:
                        problems.append(f"{filename}: {label}: fundedThrough has unknown key(s) {sorted(set(f) - _FUNDED_THROUGH_KEYS)}; allowed: {', '.join(sorted(_FUNDED_THROUGH_KEYS))}")
                    if not (f.get("funder") or f.get("programme")) or not f.get("lines"):
                        problems.append(f"{filename}: {label}: a fundedThrough entry needs `funder:` or `programme:`, and `lines:` (the line that says so): {f!r:.80}")
                    for key in ("funder", "programme", "recipient"):
                        refs(filename, f"{label}.fundedThrough", f.get(key))
                for r in entry.get("relations") or []:
                    terms = [k for k in RELATION_TERMS if k in r] if isinstance(r, dict) else []
                    if len(terms) != 1:
                        problems.append(f"{filename}: {label}: a `relations:` entry needs exactly one of {', '.join(RELATION_TERMS)}: {r!r:.100}")
                        continue
                    if set(r) - _RELATION_KEYS:
                        problems.append(f"{filename}: {label}: relation has unknown key(s) {sorted(set(r) - _RELATION_KEYS)}; allowed: {', '.join(sorted(_RELATION_KEYS))}")
                    if not r.get("lines"):
                        problems.append(f"{filename}: {label}: relation `{terms[0]}: {r[terms[0]]}` cites no line; add `lines: [N]` (the line that says so)")
                    if (terms[0] == "supports") != ("by" in r):
                        problems.append(f"{filename}: {label}: `by:` (the organisation that gives the support) goes with `supports:` and only with it: {r!r:.100}")
                    if not (isinstance(r[terms[0]], str) and _CURIE.match(r[terms[0]])):
                        problems.append(f"{filename}: {label}: `{terms[0]}:` needs one id (actor:, partnership:, practice: or programme:), not {r[terms[0]]!r:.60}")
                    refs(filename, f"{label}.relations", r[terms[0]])
                    refs(filename, f"{label}.relations", r.get("by"))
                for key, statement in date_statements(entry):
                    if not isinstance(statement, dict) or _DATE_KEYS[key] not in statement:
                        problems.append(f"{filename}: {label}: `{key}:` needs `{_DATE_KEYS[key]}:` and `lines:`, e.g. {{{_DATE_KEYS[key]}: {'true' if key == 'ongoing' else '2022'}, lines: [N]}}")
                        continue
                    if set(statement) - _DATE_STATEMENT_KEYS:
                        problems.append(f"{filename}: {label}: `{key}:` has unknown key(s) {sorted(set(statement) - _DATE_STATEMENT_KEYS)}; allowed: {', '.join(sorted(_DATE_STATEMENT_KEYS))}")
                    if not statement.get("lines"):
                        problems.append(f"{filename}: {label}: `{key}: {statement[_DATE_KEYS[key]]}` cites no line; add `lines: [N]` (the line that states it)")
                    if key != "ongoing" and not re.fullmatch(r"(19|20)\d\d", str(statement["year"])):
                        problems.append(f"{filename}: {label}: `{key}: {{year: {statement['year']}}}` is not a year; write four digits")
                settled = [(k, s) for k, s in date_statements(entry) if isinstance(s, dict) and "ambiguity" not in s]
                for key in _DATE_KEYS:
                    values = {str(s.get(_DATE_KEYS[key])) for k, s in settled if k == key}
                    if len(values) > 1:
                        problems.append(f"{filename}: {label}: `{key}:` states {sorted(values)} without `ambiguity:`; keep one reading and mark the other(s) with `ambiguity:` saying why the lines disagree")
                for o in entry.get("outcomes") or []:
                    if set(o) - _OUTCOME_KEYS:
                        problems.append(f"{filename}: {label}: outcome has unknown key(s) {sorted(set(o) - _OUTCOME_KEYS)}")
            if section == "memberships":
                for key in ("member", "organization", "role"):
                    if key not in entry:
                        problems.append(f"{filename}: memberships: {label}: missing '{key}'")
            if section == "programmes":
                for key in ("name", "lines"):
                    if key not in entry:
                        problems.append(f"{filename}: programmes: {label}: missing '{key}'; a funding programme needs a name and the lines that name it")
            if section == "actors":
                for key in ("kind", "name", "level"):
                    if key not in entry:
                        problems.append(f"{filename}: actors: {label}: missing '{key}'; every actor needs a kind, a name and a level")
    return problems


# ---------------------------------------------------------------------------
#   Fidelity: does each cited line name the actor it is cited for?
# ---------------------------------------------------------------------------

#: Words by which a text refers to a public authority without its name ("the City", "the
#: municipality", "the Government"); a line with one of them may support the authority.
GENERIC_REFERENCES: dict[str, tuple[str, ...]] = {
    "LocalAuthority": ("municipal", "city", "council", "town", "commune", "metropol"),
    "RegionalAuthority": ("region", "province", "provincial", "county", "canton", "government"),
    "NationalAuthority": ("government", "ministry", "ministries"),
}

#: Cited lines at most this far apart form one passage (an entry of a list of participants
#: spreads over several lines, with blank lines between); one naming line covers the passage.
_PASSAGE_GAP = 4


def _fold(text: str) -> str:
    """Lower case, without accents, emphasis marks or punctuation ("Red Cross (Braga delegation)" = "Red Cross, Braga delegation")."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[*_`]", "", text)
    return " ".join(re.findall(r"[a-z0-9#]+", text.lower()))


def cited_lines_without_name(curation: Curation, sources: dict[str, list[str]]) -> list[str]:
    """Actors whose cited `lines:` do not name them: one message per passage, with the fix.

    A passage (cited lines at most ``_PASSAGE_GAP`` apart) is fine when one of its lines holds the
    actor's name, an alias, an original-language name, the name of the place an authority governs,
    or, for a public authority, a word the text uses for it without its name ("the City").
    ``sources`` maps a source id (``cdadi-2024-39``) to the lines of its text.
    """
    places = {entry["id"]: entry for _, entry in curation.entries["places"] if "id" in entry}
    problems = []
    for filename, actor in curation.entries["actors"]:
        text = sources.get((actor.get("source") or "cdadi-2024-39").removeprefix("source:"))
        if text is None:
            continue
        names = [actor.get("name", ""), *(actor.get("alias") or []), *(actor.get("originalName") or {}).values()]
        place = places.get(actor.get("place"))
        if place is not None and actor.get("kind") in GENERIC_REFERENCES:
            names += [place.get("name", ""), *(place.get("alias") or [])]
        folded = [_fold(name) for name in names if name]
        words = GENERIC_REFERENCES.get(actor.get("kind"), ())
        for passage in _passages(sorted(actor.get("lines") or [])):
            def names_it(number: int) -> bool:
                if not 1 <= number <= len(text):
                    return False
                line = f" {_fold(text[number - 1])} "
                return any(f" {name} " in line for name in folded) or any(f" {word}" in line for word in words)

            if not any(names_it(n) for n in passage):
                cited = ", ".join(map(str, passage))
                problems.append(
                    f"{filename}: {actor['id']} cites line(s) {cited}, which do not name it ({actor.get('name')}); "
                    "cite the line that names it, or add the spelling the text uses to `alias:`"
                )
    return problems


def _passages(lines: list[int]) -> list[list[int]]:
    passages: list[list[int]] = []
    for number in lines:
        if passages and number - passages[-1][-1] <= _PASSAGE_GAP:
            passages[-1].append(number)
        else:
            passages.append([number])
    return passages
