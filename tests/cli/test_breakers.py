"""`adw breakers [--json]` and `adw breakers reset NAME`."""

import asyncio
import json
from pathlib import Path

import pytest

from adw_tui.cli import main
from adw_tui.config import Settings
from adw_tui.domain.breakers import Outcome
from adw_tui.domain.clock import utc_now
from adw_tui.store import Store
from adw_tui.store.location import DatabaseLocation
from tests.conftest import location_argument

BREAKER_KEYS = {
    "name",
    "state",
    "consecutive_failures",
    "consecutive_successes",
    "opened_at",
    "probe_started_at",
    "updated_at",
    "last_error",
}


@pytest.fixture(autouse=True)
def outside_any_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No repository settings (`.adw/config.toml`) apply: only `--db` names the database."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db(db_location: DatabaseLocation) -> str:
    """A database (as `--db` takes it) where the claude engine's breaker opened after five
    overloaded calls (the default threshold) and the local tracker's counts two failures."""

    async def seed() -> None:
        async with await Store.open(db_location) as store:
            policy = Settings().breaker_policy()
            for name, failures in (("claude", 5), ("local", 2)):
                for _ in range(failures):
                    await store.breakers.record(
                        name,
                        Outcome.FAILURE,
                        now=utc_now(),
                        policy=policy,
                        actor="test",
                        error="overloaded: 529",
                    )

    asyncio.run(seed())
    return location_argument(db_location)


def breakers_json(capsys: pytest.CaptureFixture[str], db: str) -> list[dict[str, object]]:
    assert main(["--db", db, "breakers", "--json"]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


def test_breakers_lists_state_and_counts(db: str, capsys: pytest.CaptureFixture[str]):
    rows = breakers_json(capsys, db)
    assert [set(row) for row in rows] == [BREAKER_KEYS] * 2
    assert [(r["name"], r["state"], r["consecutive_failures"]) for r in rows] == [
        ("claude", "open", 5),
        ("local", "closed", 2),
    ]
    assert rows[0]["opened_at"] is not None
    assert rows[0]["last_error"] == "overloaded: 529"

    assert main(["--db", db, "breakers"]) == 0
    table = capsys.readouterr().out
    assert "claude" in table
    assert "open" in table


def test_reset_closes_a_breaker(db: str, capsys: pytest.CaptureFixture[str]):
    assert main(["--db", db, "breakers", "reset", "claude"]) == 0
    assert capsys.readouterr().out.strip() == (
        "breaker claude closed (it was open after 5 consecutive failures)"
    )
    rows = breakers_json(capsys, db)
    claude = rows[0]
    assert (claude["name"], claude["state"], claude["consecutive_failures"]) == (
        "claude",
        "closed",
        0,
    )

    assert main(["--db", db, "breakers", "reset", "local"]) == 0
    assert "was closed; its 2 consecutive failures are cleared" in capsys.readouterr().out


def test_reset_of_a_name_never_used_says_it_is_closed(db: str, capsys: pytest.CaptureFixture[str]):
    assert main(["--db", db, "breakers", "reset", "github"]) == 0
    out = capsys.readouterr().out
    assert "breaker github has never recorded a failure: it is closed already" in out
    assert [row["name"] for row in breakers_json(capsys, db)] == ["claude", "local"]


def test_without_a_database_every_breaker_is_closed_and_nothing_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    missing = tmp_path / "none.db"
    assert breakers_json(capsys, str(missing)) == []
    assert main(["--db", str(missing), "breakers"]) == 0
    assert "every engine and tracker is closed" in capsys.readouterr().out
    assert main(["--db", str(missing), "breakers", "reset", "claude"]) == 0
    assert "never recorded a failure" in capsys.readouterr().out
    assert not missing.exists()
