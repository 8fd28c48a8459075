"""The store's SQL as PostgreSQL reads it (`adw_tui.store.dialect`)."""

import pytest

from adw_tui.store.dialect import postgres_ddl, postgres_query, postgres_sql


def test_placeholders_are_numbered_outside_string_literals() -> None:
    assert (
        postgres_sql("SELECT * FROM runs WHERE adw_id = ? AND status IN (?, ?) AND x = '?'")
        == "SELECT * FROM runs WHERE adw_id = $1 AND status IN ($2, $3) AND x = '?'"
    )


def test_named_placeholders_become_positional_each_name_one_number() -> None:
    sql, values = postgres_query(
        "SELECT 1 WHERE (:since IS NULL OR at >= :since) AND w = :workflow LIMIT :limit",
        {"limit": 5, "workflow": "plan", "since": None},
    )
    assert sql == "SELECT 1 WHERE ($1 IS NULL OR at >= $1) AND w = $2 LIMIT $3"
    assert values == [None, "plan", 5]


def test_a_statement_with_named_placeholders_needs_its_mapping() -> None:
    with pytest.raises(ValueError, match="named placeholders"):
        postgres_sql("SELECT :a")


def test_json_extract_is_a_jsonb_path_as_text() -> None:
    assert (
        postgres_sql("SELECT json_extract(v.data, '$.best_of.group') FROM v")
        == "SELECT (CAST(v.data AS jsonb) #>> '{best_of,group}') FROM v"
    )


def test_json_each_is_the_text_of_a_jsonb_arrays_elements_named_alike() -> None:
    assert postgres_sql(
        "SELECT 1 FROM json_each(runs.fleet, '$.labels') AS label WHERE label.value = ?"
    ) == (
        "SELECT 1 FROM jsonb_array_elements_text(CAST(runs.fleet AS jsonb) #> '{labels}') "
        "AS label(value) WHERE label.value = $1"
    )


def test_a_julianday_difference_is_days_from_epoch_seconds() -> None:
    assert postgres_sql("SELECT (julianday(b) - julianday(a)) * 86400.0") == (
        "SELECT ((CAST(EXTRACT(EPOCH FROM CAST(b AS timestamptz)) AS NUMERIC) / 86400.0) - "
        "(CAST(EXTRACT(EPOCH FROM CAST(a AS timestamptz)) AS NUMERIC) / 86400.0)) * 86400.0"
    )


def test_instr_is_strpos() -> None:
    assert postgres_sql("SELECT instr(outcome || ':', ':')") == "SELECT strpos(outcome || ':', ':')"


def test_ddl_types_and_table_options() -> None:
    sqlite = (
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL) WITHOUT ROWID;"
    )
    assert postgres_ddl(sqlite) == (
        "CREATE TABLE t (id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "at DOUBLE PRECISION NOT NULL);"
    )
