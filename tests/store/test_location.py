"""`--db` and `ADW_DB`: a file path, or a PostgreSQL DSN shown without its password."""

from pathlib import Path

import pytest

from adw_tui.domain.errors import StoreError
from adw_tui.domain.redaction import Redactor
from adw_tui.store.location import PostgresDsn, database_location


def test_a_path_or_a_relative_name_is_a_sqlite_file(tmp_path: Path) -> None:
    assert database_location(str(tmp_path / "a.db")) == tmp_path / "a.db"
    assert database_location(tmp_path / "b.db") == tmp_path / "b.db"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "POSTGRESQL"])
def test_a_postgresql_url_is_a_dsn(scheme: str) -> None:
    location = database_location(f"{scheme}://adw:s3cret-pass@db.example:5432/adw")
    assert isinstance(location, PostgresDsn)
    assert location.password == "s3cret-pass"


def test_a_dsn_is_shown_masked_wherever_it_is_printed() -> None:
    dsn = PostgresDsn("postgresql://adw:s3cret-pass@db.example:5432/adw?password=other-pass")
    assert str(dsn) == "postgresql://adw:***@db.example:5432/adw?password=***"
    assert "s3cret" not in repr(dsn)
    assert f"{dsn}" == dsn.masked
    assert PostgresDsn("postgresql://db.example/adw").masked == "postgresql://db.example/adw"


@pytest.mark.parametrize(
    ("dsn", "problem"),
    [
        ("postgresql://adw:pw@db.example:notaport/adw", "Port could not be cast"),
        ("postgresql://adw:pw@db.example:5432", "no database name"),
        ("postgresql:///adw", "no host"),
        ("postgresql://adw:pw@db example/adw", "white space"),
    ],
)
def test_a_malformed_dsn_is_one_line_naming_it_masked(dsn: str, problem: str) -> None:
    with pytest.raises(StoreError) as caught:
        database_location(dsn)
    message = str(caught.value)
    assert message.startswith("malformed PostgreSQL DSN postgresql://")
    assert problem in message
    assert "postgresql://user:password@host:5432/database" in message
    assert ":pw@" not in message


def test_a_unix_socket_host_in_the_query_is_a_host() -> None:
    location = database_location("postgresql:///adw?host=/run/postgresql")
    assert isinstance(location, PostgresDsn)


def test_the_redactor_learns_the_password_and_the_whole_dsn() -> None:
    redactor = Redactor().with_secret("s3cret-pass", "ADW_DB")
    assert redactor.text("login s3cret-pass") == "login [REDACTED:ADW_DB]"
    assert Redactor().with_secret("short", "ADW_DB").text("short") == "short"
