"""One settings object: every ICGRAPH_* variable the code reads is a Settings field, and docs/settings.md documents each."""

from __future__ import annotations

import re
from dataclasses import fields

from icgraph.config import PROJECT_DIR, Settings

DOC = (PROJECT_DIR / "docs" / "settings.md").read_text(encoding="utf-8")


def _variables_in_code() -> set[str]:
    found = set()
    for path in (PROJECT_DIR / "src" / "icgraph").rglob("*.py"):
        found |= set(re.findall(r"\bICGRAPH_[A-Z_]+[A-Z]\b", path.read_text(encoding="utf-8")))
    return found


def test_every_environment_variable_the_code_reads_is_a_setting():
    declared = set(Settings.environment_variables())
    assert _variables_in_code() - declared == set()


def test_every_setting_is_documented_with_its_variable():
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(ICGRAPH_[A-Z_]+)` \| `([a-z_]+)` \|", DOC, re.M)}
    assert rows == Settings.environment_variables()


def test_environment_variables_set_the_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("ICGRAPH_QUERY_TIMEOUT", "7.5")
    monkeypatch.setenv("ICGRAPH_QUERY_WORKERS", "3")
    monkeypatch.setenv("ICGRAPH_STORE", str(tmp_path / "s"))
    monkeypatch.setenv("ICGRAPH_FEDERATION_ALLOWLIST", "https://a.example/ https://b.example/")
    settings = Settings()
    assert (settings.query_timeout, settings.query_workers, settings.store) == (7.5, 3, tmp_path / "s")
    assert settings.federation_allowlist == ("https://a.example/", "https://b.example/")
    assert all(f.metadata.get("doc") for f in fields(Settings) if "env" in f.metadata)
