"""A site to contribute to: a private copy of the built release, accounts, API tokens (tests/test_contributions_*.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from icgraph.config import Settings
from icgraph.contributions import accounts

FIXTURES = Path(__file__).parent / "fixtures" / "contributions"
PASSWORD = "correct horse battery"
TURTLE = (FIXTURES / "practice.ttl").read_bytes()
JSON_LD = (FIXTURES / "practice.jsonld").read_bytes()


@dataclass
class Site:
    settings: Settings
    tokens: dict[str, str]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def contribution_site(built: Settings, root: Path) -> Site:
    """The built release copied under ``root`` (accepting writes new releases there, never beside the session's)."""
    release = built.build_result.release
    releases = root / "store.releases"
    releases.mkdir(parents=True)
    shutil.copytree(release.path, releases / release.id)
    (root / "store").symlink_to(releases / release.id)
    settings = Settings(store=root / "store", build_dir=root / "build", state_dir=root / "state", query_workers=2)
    tokens = {}
    for name, role in (("carla", "contributor"), ("dino", "contributor"), ("rui", "reviewer")):
        accounts.add_user(settings.state_dir, name, role, PASSWORD)
        tokens[name] = accounts.new_token(settings.state_dir, name)
    return Site(settings, tokens)


def served_site(built: Settings, root: Path) -> Iterator[Site]:
    """A `contribution_site` with ``site.client``: a TestClient of its app over HTTPS that does not follow redirects."""
    from fastapi.testclient import TestClient

    from icgraph.server.app import create_app

    site = contribution_site(built, root)
    with TestClient(create_app(site.settings), base_url="https://testserver", follow_redirects=False) as client:
        site.client = client
        yield site
