"""`siting api-key create | list | revoke` and the `siting serve --demo` banner, on the store the API uses."""

from __future__ import annotations

import json
import shlex

import pytest
from siting_api.cli import DEMO_BODY, demo_banner
from siting_api.store import Store
from typer.testing import CliRunner

from siting.cli.main import app

runner = CliRunner()


def test_api_key_create_list_revoke(db_url: str) -> None:
    created = runner.invoke(app, ["api-key", "create", "--name", "platform", "--database-url", db_url])
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("sk_") and len(secret) > 40
    store = Store(db_url)
    assert store.authenticate(secret) is not None
    dup = runner.invoke(app, ["api-key", "create", "--name", "platform", "--database-url", db_url])
    assert dup.exit_code == 1 and "active API key" in dup.output
    listed = runner.invoke(app, ["api-key", "list", "--json", "--database-url", db_url])
    rows = json.loads(listed.output)
    assert [r["name"] for r in rows] == ["platform"] and rows[0]["revoked"] is None
    assert secret not in listed.output
    table = runner.invoke(app, ["api-key", "list", "--database-url", db_url])
    assert "platform" in table.output and "active" in table.output
    revoked = runner.invoke(app, ["api-key", "revoke", rows[0]["id"], "--database-url", db_url])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert store.authenticate(secret) is None
    missing = runner.invoke(app, ["api-key", "revoke", "nobody", "--database-url", db_url])
    assert missing.exit_code == 1


def test_database_url_comes_from_the_environment(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITING_DATABASE_URL", db_url)
    created = runner.invoke(app, ["api-key", "create", "--name", "from-env"])
    assert created.exit_code == 0 and db_url in created.output
    assert [k.name for k in Store(db_url).list_keys()] == ["from-env"]


def test_demo_banner_prints_a_pasteable_request() -> None:
    text = demo_banner("http://127.0.0.1:8000", "sk_abc_def", "sqlite:///siting.db")
    assert "http://127.0.0.1:8000/map?area=demo:jiangbei" in text and "sk_abc_def" in text
    curl = text[text.index("curl") :].split("Stop with")[0].replace("\\\n", " ")
    words = shlex.split(curl)
    assert json.loads(words[words.index("-d") + 1]) == DEMO_BODY
    assert words[-1] == "http://127.0.0.1:8000/processes/evaluate-coverage/execution"
