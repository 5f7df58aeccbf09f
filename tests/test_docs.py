"""The documentation stays true: every command and query is documented, and the README's examples give what it says."""

from __future__ import annotations

import re
import subprocess

import pytest

from icgraph.cli import main
from icgraph.config import PROJECT_DIR
from icgraph.queries import load_library

from endpoint_fixtures import running_server

README = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_cli_command_is_in_the_readme(command):
    assert f"icgraph {command}" in README


def test_every_library_query_is_in_the_queries_readme():
    documented = (PROJECT_DIR / "queries" / "README.md").read_text(encoding="utf-8")
    missing = [name for name in load_library(PROJECT_DIR / "queries") if name not in documented]
    assert missing == []


def test_readme_has_exactly_two_commands_for_a_fresh_machine():
    block = _code_blocks(README.split("## Two commands", 1)[1])[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make serve", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_readme_first_query_prints_what_the_readme_shows(built):
    """Run the README's curl command against a real server on the built store, compare with the README."""
    section = README.split("## A first query", 1)[1]
    command, expected = _code_blocks(section)[:2]
    with running_server(built.store, token=None, union_default_graph=True) as server:
        script = command.replace("http://127.0.0.1:8000", server.url)
        output = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True).stdout
    assert output.replace("\r\n", "\n").strip() == expected.strip()


def test_readme_library_query_prints_what_the_readme_shows(built):
    section = README.split("Without a server", 1)[1]
    block = _code_blocks(section)[0]
    command, *expected = block.strip().splitlines()
    args = command.removeprefix("$ .venv/bin/icgraph ").split()
    from click.testing import CliRunner

    result = CliRunner().invoke(main, [*args, "--store", str(built.store)])
    assert result.exit_code == 0
    assert [line.rstrip() for line in result.output.strip().splitlines()] == [line.rstrip() for line in expected]
