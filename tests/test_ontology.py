"""The ontology and its vocabularies: they parse, pass every check in ontology/checks,
stay consistent under OWL-RL, and declare every icg: term the rest of the project uses."""

from __future__ import annotations

import re
from pathlib import Path

import owlrl
import pytest
import yaml
from owlrl.Namespaces import ERRNS
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, SKOS

from icgraph.config import PROJECT_DIR
from icgraph.infer import infer
from icgraph.namespaces import ICG, ICG_ONTOLOGY, LEVEL, MROLE, PKIND, PRINCIPLE, ROLE, TARGET, VANN

ONTOLOGY_DIR = PROJECT_DIR / "ontology"
FIXTURES = Path(__file__).parent / "fixtures" / "ontology"
CHECKS = sorted((ONTOLOGY_DIR / "checks").glob("*.rq"))
ICG_NS = str(ICG)
TERM_KINDS = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)


def _ontology_and_vocabularies() -> Graph:
    graph = Graph().parse(ONTOLOGY_DIR / "icgraph.ttl")
    for path in sorted((ONTOLOGY_DIR / "vocabularies").glob("*.ttl")):
        graph.parse(path)
    return graph


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return _ontology_and_vocabularies()


def _declared_terms(graph: Graph) -> set[str]:
    return {
        str(term)[len(ICG_NS):]
        for kind in TERM_KINDS
        for term in graph.subjects(RDF.type, kind)
        if str(term).startswith(ICG_NS)
    }


def _fix_hint(check: Path) -> str:
    return next((line.lstrip("# ") for line in check.read_text().splitlines() if line.startswith("# Fix:")), "")


# --- the files parse and carry their metadata --------------------------------------


def test_ontology_parses_and_has_its_header(ontology):
    header = Graph().parse(ONTOLOGY_DIR / "icgraph.ttl")
    assert (ICG_ONTOLOGY, RDF.type, OWL.Ontology) in header
    assert header.value(ICG_ONTOLOGY, OWL.versionIRI) == URIRef("https://w3id.org/icgraph/def/0.1.0")
    assert header.value(ICG_ONTOLOGY, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert header.value(ICG_ONTOLOGY, VANN.preferredNamespacePrefix) == Literal("icg")
    assert header.value(ICG_ONTOLOGY, VANN.preferredNamespaceUri) == Literal(ICG_NS)


@pytest.mark.parametrize("path", sorted((ONTOLOGY_DIR / "vocabularies").glob("*.ttl")), ids=lambda p: p.name)
def test_vocabulary_parses_as_one_concept_scheme(path):
    graph = Graph().parse(path)
    schemes = set(graph.subjects(RDF.type, SKOS.ConceptScheme))
    assert len(schemes) == 1, f"{path.name}: expected one skos:ConceptScheme, found {len(schemes)}"


# --- quality checks (ontology/checks/*.rq) ------------------------------------------


def test_there_are_checks():
    assert len(CHECKS) >= 7


@pytest.mark.parametrize("check", CHECKS, ids=lambda p: p.stem)
def test_check_passes(ontology, check):
    rows = list(ontology.query(check.read_text()))
    assert not rows, f"{check.name} found {len(rows)} problem(s): {[tuple(map(str, r)) for r in rows[:10]]}. {_fix_hint(check)}"


@pytest.mark.parametrize("check", CHECKS, ids=lambda p: p.stem)
def test_check_fires_on_bad_ontology(check):
    bad = Graph().parse(FIXTURES / "bad-ontology.ttl")
    rows = list(bad.query(check.read_text()))
    assert rows, f"{check.name} finds nothing in tests/fixtures/ontology/bad-ontology.ttl; add a violation there"


# --- consistency under OWL-RL --------------------------------------------------------


def _owlrl_problems(graph: Graph) -> list[str]:
    closed = Graph()
    closed += graph
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(closed)
    problems = [str(closed.value(m, ERRNS.error)) for m in closed.subjects(RDF.type, ERRNS.ErrorMessage)]
    problems += [f"{s} is a member of owl:Nothing" for s in closed.subjects(RDF.type, OWL.Nothing)]
    problems += [
        f"{s} owl:sameAs {o}"
        for s, o in closed.subject_objects(OWL.sameAs)
        if s != o and str(s).startswith("https://w3id.org/icgraph/id/") and str(o).startswith("https://w3id.org/icgraph/id/")
    ]
    return problems


@pytest.mark.slow
def test_ontology_and_data_are_consistent_under_owlrl(ontology):
    data = Graph().parse(FIXTURES / "infer-data.ttl")
    graph = ontology + data + infer(data)
    assert _owlrl_problems(graph) == []


@pytest.mark.slow
def test_owlrl_finds_an_actor_of_two_disjoint_kinds(ontology):
    # Proves the consistency test above can fail: the actor kinds are pairwise disjoint.
    bad = Graph()
    bad.add((URIRef("https://w3id.org/icgraph/id/actor/x"), RDF.type, ICG.LocalAuthority))
    bad.add((URIRef("https://w3id.org/icgraph/id/actor/x"), RDF.type, ICG.Network))
    assert _owlrl_problems(ontology + bad)


# --- every icg: term in use is declared ----------------------------------------------

CURIE = re.compile(r"(?<![\w/#])icg:([A-Za-z_][A-Za-z0-9_]*)")
FULL_IRI = re.compile(re.escape(ICG_NS) + r"([A-Za-z_][A-Za-z0-9_]*)")
PYTHON_USE = re.compile(r"\bICG(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]\s*\])")


def _terms_in_text(text: str) -> set[str]:
    return set(CURIE.findall(text)) | set(FULL_IRI.findall(text))


def _kinds_in_yaml(node) -> set[str]:
    """`kind:` values name icg: classes (the JSON-LD context maps them through @vocab)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "kind" and isinstance(value, str) and ":" not in value:
                found.add(value)
            found |= _kinds_in_yaml(value)
    elif isinstance(node, list):
        for item in node:
            found |= _kinds_in_yaml(item)
    return found


def _used_terms() -> dict[str, set[str]]:
    """Where each icg: term is used: {term: {file, ...}}."""
    used: dict[str, set[str]] = {}

    def note(terms: set[str], path: Path) -> None:
        for term in terms:
            used.setdefault(term, set()).add(str(path.relative_to(PROJECT_DIR)))

    sources = [
        (ONTOLOGY_DIR / "vocabularies", "*.ttl"),
        (ONTOLOGY_DIR / "rules", "*.rq"),
        (ONTOLOGY_DIR / "checks", "*.rq"),
        (PROJECT_DIR / "shapes", "*.ttl"),
        (PROJECT_DIR / "queries", "*.rq"),
        (PROJECT_DIR / "data" / "curation", "*.yaml"),
    ]
    for folder, pattern in sources:
        if not folder.is_dir():  # a stage that does not exist yet
            continue
        for path in folder.rglob(pattern):
            text = path.read_text(encoding="utf-8")
            note(_terms_in_text(text), path)
            if path.suffix == ".yaml":
                note(_kinds_in_yaml(yaml.safe_load(text)), path)
    for path in (PROJECT_DIR / "src" / "icgraph").rglob("*.py"):
        if path.name == "namespaces.py":
            continue
        text = path.read_text(encoding="utf-8")
        note({a or b for a, b in PYTHON_USE.findall(text)} | _terms_in_text(text), path)
    return used


def test_every_icg_term_in_use_is_declared(ontology):
    declared = _declared_terms(ontology)
    used = _used_terms()
    assert used, "found no icg: terms at all; the scan is broken"
    undeclared = {term: sorted(files) for term, files in used.items() if term not in declared}
    assert not undeclared, f"icg: terms used but not declared in ontology/icgraph.ttl: {undeclared}"


def test_namespace_class_lists_exactly_the_declared_terms(ontology):
    in_python = {name for name in ICG.__annotations__ if not name.startswith("_")}
    declared = _declared_terms(ontology)
    assert in_python == declared, (
        f"src/icgraph/namespaces.py ICG and ontology/icgraph.ttl differ: "
        f"only in Python {sorted(in_python - declared)}, only in the ontology {sorted(declared - in_python)}"
    )


def test_a_misspelt_term_is_an_error():
    with pytest.raises(AttributeError):
        ICG.Practise  # noqa: B018


# --- the vocabularies say what docs/design.md says ------------------------------------


def _notations(graph: Graph, namespace) -> list[str]:
    concepts = [c for c in graph.subjects(RDF.type, SKOS.Concept) if str(c).startswith(str(namespace))]
    return sorted(str(graph.value(c, SKOS.notation)) for c in concepts)


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [
        (LEVEL, "local regional national european international"),
        (ROLE, "lead funder implementer coordinator partner participant beneficiary initiator contributor host adviser chair adopter supporter"),
        (MROLE, "member chair vice-chair partner coordinator observer participant expert secretariat rapporteur lead-partner"),
        (PRINCIPLE, "equality diversity interaction participation multilevel-governance canada"),
        (PKIND, "pact agreement board consortium committee network project-partnership forum"),
    ],
    ids=["levels", "roles", "membership-roles", "principles", "partnership-kinds"],
)
def test_scheme_has_the_concepts_of_the_design(ontology, namespace, expected):
    assert _notations(ontology, namespace) == sorted(expected.split())
    scheme = URIRef(str(namespace).rstrip("/"))
    assert (scheme, RDF.type, SKOS.ConceptScheme) in ontology
    for concept in ontology.subjects(SKOS.inScheme, scheme):
        assert str(concept) == str(namespace) + str(ontology.value(concept, SKOS.notation))


def test_target_groups_cover_the_required_list(ontology):
    required = (
        "migrants refugees asylum-seekers beneficiaries-of-international-protection third-country-nationals newcomers "
        "displaced-persons-from-ukraine roma-and-travellers ethnic-minorities religious-communities women migrant-women "
        "children youth students teachers families older-people persons-with-disabilities lgbti-people "
        "victims-of-discrimination public-officials police-and-security-forces local-authorities "
        "civil-society-organisations employers-and-businesses media-professionals general-public residents volunteers"
    ).split()
    assert set(required) <= set(_notations(ontology, TARGET))


def test_levels_sort_from_local_to_international(ontology):
    ranked = sorted(ontology.subjects(SKOS.inScheme, URIRef(str(LEVEL).rstrip("/"))), key=lambda c: ontology.value(c, ICG.rank).toPython())
    assert [str(ontology.value(c, SKOS.notation)) for c in ranked] == ["local", "regional", "national", "european", "international"]


def test_principle_hidden_labels_are_the_section_headings_as_printed(ontology):
    lines = set((PROJECT_DIR / "data" / "sources" / "cdadi-2024-39-compendium.txt").read_text(encoding="utf-8").splitlines())
    for concept in ontology.subjects(SKOS.inScheme, URIRef(str(PRINCIPLE).rstrip("/"))):
        heading = str(ontology.value(concept, SKOS.hiddenLabel))
        assert heading in lines, f"{concept}: hidden label {heading!r} is not a line of the compendium"
        assert heading == str(ontology.value(concept, SKOS.prefLabel)).upper()


# --- documentation -------------------------------------------------------------------


def test_ontology_docs_show_every_term_and_scheme(ontology):
    from icgraph.ontology_docs import render_ontology_docs

    html = render_ontology_docs()
    for term in _declared_terms(ontology):
        assert f'id="{term}"' in html, f"icg:{term} is missing from the /def page"
    for scheme in ontology.subjects(RDF.type, SKOS.ConceptScheme):
        assert f'id="{scheme}"' in html


def test_docs_ontology_md_lists_every_term(ontology):
    text = (PROJECT_DIR / "docs" / "ontology.md").read_text(encoding="utf-8")
    missing = sorted(t for t in _declared_terms(ontology) if f"`icg:{t}`" not in text)
    assert not missing, f"docs/ontology.md does not list {missing}"
