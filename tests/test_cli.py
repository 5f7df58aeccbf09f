"""The `icgraph` command line: exit codes, output, and the error messages users see."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from icgraph import __version__
from icgraph.cli import main


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_version_is_printed():
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize("command", ["build", "validate", "serve", "query", "stats", "export", "queries", "report"])
def test_every_command_has_help(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_console_script_is_installed():
    """The entry point a user types, not only the click object."""
    completed = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "icgraph"), "--help"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0
    assert "build" in completed.stdout and "serve" in completed.stdout


def test_query_on_a_missing_store_says_how_to_make_one(tmp_path):
    result = CliRunner().invoke(main, ["query", "--store", str(tmp_path / "nowhere"), "practices"])
    assert result.exit_code == 1
    assert "no store at" in result.output and "icgraph build" in result.output


def test_store_is_taken_from_the_environment(tmp_path):
    result = CliRunner().invoke(main, ["stats"], env={"ICGRAPH_STORE": str(tmp_path / "from-env")})
    assert result.exit_code == 1
    assert str(tmp_path / "from-env") in result.output


def test_trivial_query_prints_rows(built, tmp_path):
    query = tmp_path / "count.rq"
    query.write_text("SELECT (COUNT(*) AS ?triples) WHERE { ?s ?p ?o }")
    result = run("query", str(query), "--store", str(built.store))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].strip() == "triples"
    assert int(lines[2]) > 10000
    assert lines[-1] == "(1 row)"


def test_malformed_query_file_reports_the_position(built, tmp_path):
    query = tmp_path / "broken.rq"
    query.write_text("SELECT ?s WHERE { ?s ?p }")
    result = CliRunner().invoke(main, ["query", str(query), "--store", str(built.store)])
    assert result.exit_code == 2
    assert "broken.rq" in result.output
    assert "1:" in result.output or "line" in result.output.lower()  # the parser's position


def test_missing_query_file_is_an_error(built, tmp_path):
    result = CliRunner().invoke(main, ["query", str(tmp_path / "absent.rq"), "--store", str(built.store)])
    assert result.exit_code == 1
    assert "no query file" in result.output


def test_unknown_library_query_name(built):
    result = CliRunner().invoke(main, ["query", "no-such-query", "--store", str(built.store)])
    assert result.exit_code == 1
    assert "no query named" in result.output


@pytest.mark.parametrize("fmt,check", [
    ("csv", lambda out: out.splitlines()[0].strip() == "n"),
    ("tsv", lambda out: out.splitlines()[0].strip() == "?n"),
    ("json", lambda out: json.loads(out)["head"]["vars"] == ["n"]),
])
def test_query_formats(built, tmp_path, fmt, check):
    query = tmp_path / "n.rq"
    query.write_text("SELECT (COUNT(*) AS ?n) WHERE { ?s a ?c }")
    result = run("query", str(query), "--store", str(built.store), "--format", fmt)
    assert result.exit_code == 0
    assert check(result.output)


def test_construct_query_as_turtle(built, tmp_path):
    query = tmp_path / "c.rq"
    query.write_text("PREFIX icg: <https://w3id.org/icgraph/def#> CONSTRUCT { ?p a icg:Practice } WHERE { ?p a icg:Practice }")
    result = run("query", str(query), "--store", str(built.store), "--format", "ttl")
    assert result.exit_code == 0
    assert "icg:Practice" in result.output


def test_stats_lists_every_named_graph(built):
    result = run("stats", "--store", str(built.store))
    assert result.exit_code == 0
    for graph in ("ontology", "vocabularies", "compendium", "meeting-report", "curation", "provenance", "inferred"):
        assert f"https://w3id.org/icgraph/graph/{graph}" in result.output
    assert "icg:Practice" in result.output


def test_export_trig_keeps_named_graphs(built, tmp_path):
    out = tmp_path / "dump.trig"
    result = run("export", "--store", str(built.store), "--format", "trig", "--output", str(out))
    assert result.exit_code == 0
    text = out.read_text()
    assert "graph:compendium" in text or "<https://w3id.org/icgraph/graph/compendium>" in text
