"""Accounts for contributions: the `icgraph users` commands, Argon2 hashes, sessions and API tokens."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from icgraph.cli import main
from icgraph.contributions import accounts
from icgraph.contributions.database import path as database_path

PASSWORD = "correct horse battery"


def test_users_add_list_remove_from_the_command_line(tmp_path):
    runner = CliRunner()
    state = str(tmp_path)
    added = runner.invoke(main, ["users", "add", "rui", "--role", "reviewer", "--state-dir", state], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert added.exit_code == 0, added.output
    assert "added rui (reviewer)" in added.output
    assert PASSWORD not in added.output  # the prompt hides it
    piped = runner.invoke(main, ["users", "add", "carla", "--password-stdin", "--state-dir", state], input=f"{PASSWORD}\n")
    assert piped.exit_code == 0, piped.output
    listed = runner.invoke(main, ["users", "list", "--state-dir", state])
    assert [line.split("\t")[:2] for line in listed.output.splitlines()] == [["carla", "contributor"], ["rui", "reviewer"]]
    removed = runner.invoke(main, ["users", "remove", "carla", "--state-dir", state])
    assert removed.exit_code == 0 and "removed carla" in removed.output
    assert "carla" not in runner.invoke(main, ["users", "list", "--state-dir", state]).output
    again = runner.invoke(main, ["users", "remove", "carla", "--state-dir", state])
    assert again.exit_code == 2 and "no user 'carla'" in again.output


def test_a_password_is_never_taken_from_the_command_line(tmp_path):
    result = CliRunner().invoke(main, ["users", "add", "rui", "--password", PASSWORD, "--state-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "No such option" in result.output


@pytest.mark.parametrize(
    ("name", "role", "password", "says"),
    [
        ("rui", "boss", PASSWORD, "choose one of contributor, reviewer, admin"),
        ("r", "reviewer", PASSWORD, "user name 'r'"),
        ("rui", "reviewer", "short", "at least 10 characters"),
    ],
)
def test_bad_accounts_are_refused_with_the_fix(tmp_path, name, role, password, says):
    with pytest.raises(accounts.AccountError, match=says):
        accounts.add_user(tmp_path, name, role, password)
    assert accounts.list_users(tmp_path) == []


def test_passwords_are_stored_as_argon2id_hashes_and_checked(tmp_path):
    accounts.add_user(tmp_path, "carla", "contributor", PASSWORD)
    with pytest.raises(accounts.AccountError, match="exists already"):
        accounts.add_user(tmp_path, "carla", "reviewer", PASSWORD)
    stored = sqlite3.connect(database_path(tmp_path)).execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.authenticate(tmp_path, "carla", PASSWORD) == accounts.User("carla", "contributor")
    assert accounts.authenticate(tmp_path, "carla", PASSWORD + "x") is None
    assert accounts.authenticate(tmp_path, "nobody", PASSWORD) is None


def test_roles_are_ordered():
    reviewer = accounts.User("rui", "reviewer")
    assert reviewer.may("contributor") and reviewer.may("reviewer") and not reviewer.may("admin")
    assert not accounts.User("carla", "contributor").may("reviewer")
    assert accounts.User("ada", "admin").may("reviewer")


def test_sessions_and_tokens_are_stored_hashed_and_end_with_the_account(tmp_path):
    user = accounts.add_user(tmp_path, "carla", "contributor", PASSWORD)
    secret, csrf = accounts.open_session(tmp_path, user)
    token = accounts.new_token(tmp_path, "carla")
    assert accounts.session(tmp_path, secret) == accounts.Session(user, csrf)
    assert accounts.token_user(tmp_path, token) == user
    assert accounts.session(tmp_path, secret + "x") is None and accounts.token_user(tmp_path, token + "x") is None
    raw = database_path(tmp_path).read_bytes() + (database_path(tmp_path).with_name(database_path(tmp_path).name + "-wal").read_bytes()
                                                   if database_path(tmp_path).with_name(database_path(tmp_path).name + "-wal").exists() else b"")
    assert secret.encode() not in raw and token.encode() not in raw
    accounts.close_session(tmp_path, secret)
    assert accounts.session(tmp_path, secret) is None
    accounts.remove_user(tmp_path, "carla")
    assert accounts.token_user(tmp_path, token) is None


def test_users_token_prints_a_working_token(tmp_path):
    accounts.add_user(tmp_path, "carla", "contributor", PASSWORD)
    result = CliRunner().invoke(main, ["users", "token", "carla", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert accounts.token_user(tmp_path, result.output.strip()) == accounts.User("carla", "contributor")
    missing = CliRunner().invoke(main, ["users", "token", "nobody", "--state-dir", str(tmp_path)])
    assert missing.exit_code == 2 and "no user 'nobody'" in missing.output
