"""Who did what for whom (issue 25): the structure a practice sets up or is carried out by, and the
relations the texts state (builds on, inspired by, supports, dissemination channel), on real practices.

Each relation is a direct triple (for queries) and an rdf:Statement restating it with the lines that
say so and the practice whose text states it (icg:statedIn); every case is checked against the words
of its cited line.
"""

from __future__ import annotations

import pytest
import yaml
from fastapi import FastAPI

from conftest import pooled_client
from icgraph.config import Settings
from icgraph.mapping.curation import CurationError, map_curation
from icgraph.namespaces import sparql_prefixes
from icgraph.server import linked_data
from icgraph.server.templating import static_files

SETTINGS = Settings()
LINES = (SETTINGS.sources_dir / "cdadi-2024-39-compendium.txt").read_text(encoding="utf-8").splitlines()


def _values(store, query, *names):
    rows = store.query(sparql_prefixes() + query, use_default_graph_as_union=True)
    return {tuple(row[n].value if row[n] is not None else None for n in names) for row in rows}


def _local(iri: str) -> str:
    return iri.rsplit("/", 1)[1]


# --------------------------------------------------------------------------- stated relations


RELATIONS = [
    # practice–structure: the practice sets up the body, or is the body's work
    ("practice:establishment-of-advisory-group-of-third-country-nationals", "establishes", "actor:hr-advisory-group-of-third-country-nationals", 2340, "Establishment of Advisory Group of Third-country Nationals"),
    ("practice:vila-verde-ciga-giro-project", "establishes", "partnership:vila-verde-ciga-giro-consortium", 812, "A consortium was formed for its implementation"),
    ("practice:law-5013-2023-art-1-17-regarding", "establishes", "partnership:gr-national-system-of-multilevel-governance", 2855, "establishes the National System of Multilevel Governance"),
    ("practice:bilbao-anti-rumours-strategy", "establishes", "actor:bilbao-network-of-anti-rumours-agents", 1557, "The aim is to develop a citizen network"),
    ("practice:itaca-italian-cities-against-discrimination", "carriedOutBy", "actor:itaca-project", 510, "ITACA is coordinated by ICEI in partnership with"),
    ("practice:divercities", "carriedOutBy", "partnership:divercities-consortium", 2484, "implemented by a transnational partnership of Municipalities"),
    ("practice:intercultural-regions-network", "carriedOutBy", "actor:intercultural-regions-network", 2314, "launched in 2019 the Intercultural Regions Network"),
    ("practice:lublin-lublin-civic-committee-to-aid-ukraine-lubelski", "carriedOutBy", "actor:lublin-civic-committee-to-aid-ukraine", 2549, "The Lublin Civic Committee to Aid Ukraine was established"),
    ("practice:tallinn-network-of-stakeholders", "carriedOutBy", "partnership:tallinn-network-of-stakeholders", 1904, "The Network is led by Tallinn Migration Centre"),
    ("practice:advisory-board-for-ethnic-relations-etno", "carriedOutBy", "actor:fi-advisory-board-for-ethnic-relations", 2823, "serves as a national forum for dialogue"),
    # builds on / inspired by
    ("practice:divercities", "buildsOn", "actor:intercultural-cities-programme", 2480, "DiverCities builds on the experience of the Intercultural Cities Programme"),
    ("practice:intercultural-regions-network", "buildsOn", "actor:aer-taskforce-on-migration", 2314, "building upon the key messages enshrined in its position paper"),
    ("practice:intercultural-regions-network", "inspiredBy", "actor:intercultural-cities-programme", 2299, "Inspired by the Intercultural Cities Programme"),
    ("practice:eu-belong-an-intercultural-approach-to-migrant-integration", "buildsOn", "actor:intercultural-cities-programme", 2226, "are being adapted and implemented at the regional level"),
    # dissemination channels
    ("practice:fuenlabrada-citizen-auditors-and-municipal-services-against-structural", "disseminationChannel", "actor:eurocities", 1776, "through the city networks of which they are part (Intercultural Cities, Eurocities and URBELAC)"),
    ("practice:eu-belong-an-intercultural-approach-to-migrant-integration", "disseminationChannel", "actor:assembly-of-european-regions", 2250, "disseminated through the EU-Belong and AER social media channels"),
    ("practice:itaca-italian-cities-against-discrimination", "disseminationChannel", "actor:citta-del-dialogo", 535, "dissemination event for Italian Municipalities of the Italian Network of Intercultural Cities"),
]

SUPPORTS = [
    ("practice:divercities", "actor:icei", "actor:municipality-modena", 2486, "Modena, Montesilvano and Pontedera, with the technical support of ICEI"),
    ("practice:divercities", "actor:aci", "actor:municipality-zaragoza", 2488, "Zaragoza and Logroño with technical support of ACI"),
    ("practice:intercultural-education", "actor:nansen-dialogue-centre-skopje", "actor:mk-ministry-of-education-and-science", 1961, "serves as a direct support to the Ministry of Education and Science"),
    ("practice:lublin-ukrainian-refugee-teachers-in-public-schools", "actor:lublin-civic-committee-to-aid-ukraine", "practice:lublin-ukrainian-refugee-teachers-in-public-schools", 2024, "Thanks to the support of the Lublin Civic Committee to Aid Ukraine"),
    ("practice:handbook-of-guidelines-on-women-and-girls", "actor:unhcr", "practice:handbook-of-guidelines-on-women-and-girls", 433, "had the support of the UNHCR-UN Refugee Agency"),
]


@pytest.mark.parametrize("practice, relation, target, line, words", RELATIONS, ids=[f"{r[0][9:40]}-{r[1]}-{r[2]}" for r in RELATIONS])
def test_a_stated_relation_is_a_triple_and_a_statement_citing_its_line(store, practice, relation, target, line, words):
    assert words in LINES[line - 1], f"line {line} does not say {words!r}"
    assert _values(store, f"SELECT ?x WHERE {{ {practice} icg:{relation} ?x FILTER (?x = {target}) }}", "x"), f"no {practice} icg:{relation} {target}"
    lines = _values(store, f"""
        SELECT ?line WHERE {{ ?s a rdf:Statement ; rdf:subject {practice} ; rdf:predicate icg:{relation} ; rdf:object {target} ;
          icg:statedIn {practice} ; icg:sourceLine ?line }}""", "line")
    assert (str(line),) in lines


@pytest.mark.parametrize("practice, supporter, supported, line, words", SUPPORTS, ids=[f"{s[1][6:]}-{s[2].split(':')[1]}" for s in SUPPORTS])
def test_support_goes_from_the_named_organisation_to_the_named_body_or_practice(store, practice, supporter, supported, line, words):
    assert words in LINES[line - 1]
    rows = _values(store, f"""
        SELECT ?line WHERE {{ {supporter} icg:supports {supported} .
          ?s a rdf:Statement ; rdf:subject {supporter} ; rdf:predicate icg:supports ; rdf:object {supported} ;
             icg:statedIn {practice} ; icg:sourceLine ?line }}""", "line")
    assert (str(line),) in rows


def test_every_statement_restates_an_asserted_triple_and_every_relation_has_its_statement(store):
    relations = "icg:establishes icg:carriedOutBy icg:buildsOn icg:inspiredBy icg:supports icg:disseminationChannel"
    unasserted = _values(store, """
        SELECT ?s WHERE { ?s a rdf:Statement ; rdf:subject ?a ; rdf:predicate ?p ; rdf:object ?b FILTER NOT EXISTS { ?a ?p ?b } }""", "s")
    assert unasserted == set()
    uncited = _values(store, f"""
        SELECT ?a ?p ?b WHERE {{ VALUES ?p {{ {relations} }} ?a ?p ?b
          FILTER NOT EXISTS {{ ?s rdf:subject ?a ; rdf:predicate ?p ; rdf:object ?b ; icg:sourceLine ?line ; icg:statedIn ?practice }} }}""", "a", "p", "b")
    assert uncited == set()


def test_every_project_consortium_actor_is_linked_to_its_practice(store):
    # "Two project actors are not linked to their practice at all" (issue 25): now every one is.
    consortia = _values(store, "SELECT ?a WHERE { ?a icg:actorFamily family:project-consortium }", "a")
    assert len(consortia) >= 5
    unlinked = _values(store, """
        SELECT ?a WHERE { ?a icg:actorFamily family:project-consortium
          FILTER NOT EXISTS { ?practice icg:establishes|icg:carriedOutBy|icg:buildsOn ?a } }""", "a")
    assert unlinked == set()


def test_a_practice_that_is_a_standing_body_is_linked_to_that_body(store):
    # Networks, boards, forums and committees listed as practices are one undertaking with their actor or partnership.
    bodies = _values(store, """
        SELECT ?practice ?body WHERE { ?practice icg:carriedOutBy ?body . ?body a ?kind
          VALUES ?kind { icg:Network icg:Partnership icg:NationalAuthority icg:RegionalAuthority } }""", "practice", "body")
    practices = {_local(p) for p, _ in bodies}
    assert {"tallinn-network-of-stakeholders", "lublin-lublin-civic-committee-to-aid-ukraine-lubelski", "intercultural-regions-network",
            "advisory-board-for-ethnic-relations-etno", "foro-para-la-integracion-social-de-los-inmigrantes",
            "bilbao-intersectional-board-on-female-genital-mutilation-prevention"} <= practices


# --------------------------------------------------------------------------- refused input


def _folder(tmp_path, document: dict):
    folder = tmp_path / "curation"
    folder.mkdir()
    (folder / "x.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "relation, fix",
    [
        ({"establishes": "actor:a"}, "cites no line"),
        ({"establishes": "actor:b", "lines": [2]}, "which no curation file defines"),
        ({"establishes": "actor:a", "carriedOutBy": "actor:a", "lines": [2]}, "exactly one of"),
        ({"supports": "actor:a", "lines": [2]}, "`by:`"),
        ({"buildsOn": "actor:a", "by": "actor:a", "lines": [2]}, "`by:`"),
        ({"disseminationChannel": "actor:a", "lines": [2], "year": 2020}, "unknown key"),
    ],
)
def test_a_relation_without_line_target_or_with_two_terms_is_refused(tmp_path, relation, fix):
    folder = _folder(tmp_path, {
        "actors": [{"id": "actor:a", "kind": "Network", "name": "A", "level": "level:local", "lines": [1]}],
        "practices": [{"practice": "practice:p", "participationNote": "none", "relations": [relation]}],
    })
    with pytest.raises(CurationError) as error:
        map_curation(folder, known_practices={"practice:p"})
    assert fix in str(error.value)


# --------------------------------------------------------------------------- pages


@pytest.fixture(scope="module")
def client(built, store):
    app = FastAPI()
    app.state.settings = built
    app.mount("/static", static_files(), name="static")
    app.include_router(linked_data.router)
    with pooled_client(app) as client:
        yield client


@pytest.mark.parametrize(
    "path, shows",
    [
        ("/id/practice/itaca-italian-cities-against-discrimination", ["Structures and stated relations", "/id/actor/itaca-project", "/def#carriedOutBy", "506, 510"]),
        ("/id/actor/intercultural-cities-programme", ["Structures and stated relations", "/id/practice/divercities", "/def#buildsOn", "/def#inspiredBy"]),
        ("/id/partnership/tallinn-network-of-stakeholders", ["Structures and stated relations", "/id/practice/tallinn-network-of-stakeholders", "1902, 1904"]),
        ("/id/practice/local-community-learning-against-racism-xenophobia-and-hate", ["Leading authority <span class=\"muted\">(as printed)</span>", "Madrid City Council (coordinator)", "Bradford Hate Crime Alliance &amp;"]),
        ("/id/practice/establishment-of-advisory-group-of-third-country-nationals", ["/id/level/local", "/id/level/national", "decision-makers at national and local level"]),
    ],
)
def test_the_linked_data_pages_show_the_structures_and_stated_relations(client, path, shows):
    response = client.get(path + ".html")
    assert response.status_code == 200
    for text in shows:
        assert text in response.text, f"{path} does not show {text!r}"


# --------------------------------------------------------------------------- groups spanning levels

SPANNING_GROUPS = [
    # practice, group slug, levels, line, words
    ("establishment-of-advisory-group-of-third-country-nationals", "decision-makers-at-national-and-local-level", {"national", "local"}, 2348, "decision-makers at national and local level"),
    ("fuenlabrada-anti-rumours-strategy-ars", "local-governments-and-autonomous-communities-key-professionals-surveyed", {"local", "regional"}, 1719, "key professionals from local governments and autonomous communities"),
    ("conference-expo-integration-window", "local-and-national-stakeholders", {"local", "national"}, 1922, "different local and national stakeholders"),
    ("strategy-document-for-roma-citizens-2023-2030", None, {"national", "international"}, 1057, "representatives of international organisations"),
]


@pytest.mark.parametrize("practice, group, levels, line, words", SPANNING_GROUPS, ids=[g[0][:40] for g in SPANNING_GROUPS])
def test_a_generic_group_the_text_puts_at_several_levels_has_them_all_and_the_practice_spans_them(store, practice, group, levels, line, words):
    assert words in LINES[line - 1]
    rows = _values(store, f"""
        SELECT ?group ?level WHERE {{ practice:{practice} icg:hasParticipation/icg:agent ?group . ?group a icg:ActorGroup ; icg:governanceLevel ?level }}""", "group", "level")
    by_group: dict[str, set[str]] = {}
    for g, level in rows:
        by_group.setdefault(g.split("#group-")[1], set()).add(_local(level))
    spanning = {g: ls for g, ls in by_group.items() if len(ls) > 1}
    assert (levels in spanning.values()) if group is None else spanning.get(group) == levels
    spanned = {_local(level) for (level,) in _values(store, f"SELECT ?l WHERE {{ practice:{practice} icg:spansLevel ?l }}", "l")}
    count = _values(store, f"SELECT ?n WHERE {{ practice:{practice} icg:levelCount ?n }}", "n")
    assert levels <= spanned and count == {(str(len(spanned)),)}
    assert _values(store, f"SELECT ?p WHERE {{ BIND(practice:{practice} AS ?p) ?p a icg:MultilevelPractice }}", "p")


def test_fuenlabrada_anti_rumours_strategy_is_multilevel_only_through_its_spanning_group(store):
    # Before groups could span levels, "local governments and autonomous communities" was local and the practice was not multilevel.
    named = _values(store, """
        SELECT ?level WHERE { practice:fuenlabrada-anti-rumours-strategy-ars icg:hasParticipation/icg:agent ?a .
          ?a icg:governanceLevel ?level FILTER NOT EXISTS { ?a icg:governanceLevel ?other FILTER (?other != ?level) } }""", "level")
    assert {_local(level) for (level,) in named} == {"local"}
    assert _values(store, "SELECT ?n WHERE { practice:fuenlabrada-anti-rumours-strategy-ars icg:levelCount ?n }", "n") == {("2",)}


def test_a_cooperation_edge_has_one_level_at_each_end_even_with_spanning_groups(store):
    doubled = _values(store, """
        SELECT ?edge WHERE { { ?edge a icg:CooperationEdge ; icg:fromLevel ?a , ?b FILTER (?a != ?b) }
          UNION { ?edge a icg:CooperationEdge ; icg:toLevel ?a , ?b FILTER (?a != ?b) } }""", "edge")
    assert doubled == set()
    # the spanning group of the Croatian advisory group meets the national bodies at both of its levels
    levels = _values(store, """
        SELECT ?level WHERE { ?edge icg:viaPractice practice:establishment-of-advisory-group-of-third-country-nationals ;
          icg:fromAgent|icg:toAgent ?group . ?edge icg:fromLevel|icg:toLevel ?level .
          FILTER (STRENDS(STR(?group), "#group-decision-makers-at-national-and-local-level")) }""", "level")
    assert {_local(level) for (level,) in levels} >= {"local", "national"}


def test_the_inference_counts_each_level_of_a_spanning_group_once():
    from rdflib import Graph, URIRef
    from rdflib.namespace import RDF, SKOS

    from icgraph.infer import infer
    from icgraph.namespaces import ICG, LEVEL, PRACTICE, ROLE

    data = Graph().parse(__file__.rsplit("/", 1)[0] + "/fixtures/ontology/infer-data.ttl")
    beta = PRACTICE.beta
    before = infer(data)
    assert before.value(beta, ICG.levelCount).toPython() == 1
    group, part = URIRef(str(beta) + "#group-officials"), URIRef(str(beta) + "#p-group-officials-partner")
    data.add((beta, ICG.hasParticipation, part))
    data.add((part, RDF.type, ICG.Participation))
    data.add((part, ICG.agent, group))
    data.add((part, ICG.role, ROLE.partner))
    data.add((group, RDF.type, ICG.ActorGroup))
    data.add((group, SKOS.prefLabel, __import__("rdflib").Literal("officials at national and regional level", lang="en")))
    for level in (LEVEL.national, LEVEL.regional, LEVEL.local):
        data.add((group, ICG.governanceLevel, level))
    after = infer(data)
    assert set(after.objects(beta, ICG.spansLevel)) == {LEVEL.local, LEVEL.regional, LEVEL.national}
    assert after.value(beta, ICG.levelCount).toPython() == 3
    assert (beta, RDF.type, ICG.MultilevelPractice) in after
    edges = set(after.subjects(ICG.viaPractice, beta))
    for edge in edges:
        assert len(set(after.objects(edge, ICG.fromLevel))) == 1 and len(set(after.objects(edge, ICG.toLevel))) == 1
    # one edge per pair of agents and pair of levels: the group meets each of the two towns at its three levels
    assert len(edges) == 1 + 2 * 3


# --------------------------------------------------------------------------- printed fields and roles

PRINTED = [
    ("local-community-learning-against-racism-xenophobia-and-hate", "leadingAuthorityAsPrinted", 934, "Madrid City Council (coordinator)"),
    ("local-community-learning-against-racism-xenophobia-and-hate", "implementingPartnersAsPrinted", 943, "Pamplona City Council,"),
    ("gestion-y-atencion-a-la-diversidad-en-la", "leadingAuthorityAsPrinted", 1533, "The project is led by the Federación de Servicios Públicos"),
    ("gestion-y-atencion-a-la-diversidad-en-la", "implementingPartnersAsPrinted", 1535, "co-financed by the European Union's Asylum, Migration and Integration Fund (AMIF)"),
    ("choices-programme-programa-escolhas", "leadingAuthorityAsPrinted", 2626, "High Commission for Migration"),
    ("consultation-process-for-the-elaboration-of-the-spanish", "implementingPartnersAsPrinted", 3018, "Spanish Observatory on Racism and Xenophobia (OBERAXE)"),
]


@pytest.mark.parametrize("practice, prop, line, words", PRINTED, ids=[f"{p[0][:30]}-{p[1]}" for p in PRINTED])
def test_the_printed_who_did_what_lines_are_kept_as_text(store, practice, prop, line, words):
    assert words in LINES[line - 1]
    texts = _values(store, f"SELECT ?t WHERE {{ practice:{practice} icg:{prop} ?t }}", "t")
    assert len(texts) == 1 and words in next(iter(texts))[0]


def test_a_list_under_a_printed_label_is_kept_item_by_item_and_stops_at_the_next_text(store):
    (partners,), = _values(store, "SELECT ?t WHERE { practice:local-community-learning-against-racism-xenophobia-and-hate icg:implementingPartnersAsPrinted ?t }", "t")
    items = partners.split("\n")
    assert items[0] == "Elche City Council," and items[-1] == "University of Salamanca" and len(items) == 10
    assert "Website" not in partners


def test_only_the_practices_that_print_such_lines_have_them(store):
    practices = _values(store, "SELECT ?p WHERE { ?p icg:leadingAuthorityAsPrinted|icg:implementingPartnersAsPrinted ?t }", "p")
    printing = {n for n, text in enumerate(LINES, 1) if text.lstrip("- ").startswith(("Leading authorit", "Implementing partners"))}
    assert len(practices) == 4 and len(printing) == 8


@pytest.mark.parametrize(
    "practice, actor, role, line, words",
    [
        ("reggio-emilia-local-action-plan-against-racial-discrimination", "municipality-reggio-emilia", "adopter", 696, "Adopted by the city council in January 2023"),
        ("paris-participatory-budget", "municipality-paris", "adopter", 2410, "Their financing is adopted by the Paris Council"),
        ("handbook-of-guidelines-on-women-and-girls", "unhcr", "supporter", 433, "had the support of the UNHCR"),
        ("bilbao-diversitours-real-and-virtual-tours", "council-of-europe", "supporter", 1599, "with the support the Council of Europe"),
    ],
)
def test_a_role_word_the_scheme_lacked_now_has_its_concept(store, practice, actor, role, line, words):
    assert words in LINES[line - 1]
    assert _values(store, f"""SELECT ?part WHERE {{ practice:{practice} icg:hasParticipation ?part .
        ?part icg:agent actor:{actor} ; icg:role role:{role} ; icg:sourceLine {line} }}""", "part")


@pytest.mark.parametrize(
    "word, concept",
    [("leading authority", "lead"), ("implementing partner", "implementer"), ("manager", "coordinator"), ("adopted by", "adopter")],
)
def test_the_words_of_the_text_map_to_role_concepts(store, word, concept):
    assert _values(store, f'SELECT ?c WHERE {{ ?c skos:altLabel "{word}"@en FILTER (?c = role:{concept}) }}', "c")


def test_a_supporter_is_related_to_contributor_in_the_flat_role_scheme(store):
    assert _values(store, "SELECT ?b WHERE { role:supporter skos:related ?b ; skos:topConceptOf ?scheme FILTER (?b = role:contributor) }", "b")


# --------------------------------------------------------------------------- docs/ontology.md, "How to ask"


def _how_to_ask_queries() -> list[str]:
    import re

    text = (SETTINGS.project_dir / "docs" / "ontology.md").read_text(encoding="utf-8")
    section = text[text.index("## How to ask"): text.index("\n## ", text.index("## How to ask") + 3)]
    return re.findall(r"```sparql\n(.*?)```", section, re.S)


def test_how_to_ask_has_a_query_for_parent_chains_families_funding_paths_and_structures():
    queries = _how_to_ask_queries()
    joined = "\n".join(queries)
    for term in ("org:subOrganizationOf+", "icg:actorFamily", "icg:qualifiedFunding", "icg:establishes|icg:carriedOutBy", "icg:sourceLine"):
        assert term in joined, term
    assert len(queries) >= 5


@pytest.mark.parametrize("number", range(6))
def test_every_how_to_ask_query_answers_on_the_build(store, number):
    queries = _how_to_ask_queries()
    assert len(queries) == 6
    rows = list(store.query(queries[number], use_default_graph_as_union=True))
    assert rows, f"query {number + 1} of 'How to ask' answers nothing:\n{queries[number]}"
