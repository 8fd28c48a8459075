"""The store's SQL, written for SQLite, as PostgreSQL reads it.

The store writes portable SQL where both engines accept one form (`ON CONFLICT`,
`RETURNING`, `CAST`); what remains differs in a few fixed ways, translated here, once per
statement (cached):

- placeholders: `?` and `:name` become `$1`, `$2`, ...;
- `json_extract(column, '$.a.b')` becomes `(CAST(column AS jsonb) #>> '{a,b}')`, its text
  (compare or CAST it; the store stores JSON as text in both engines);
- `julianday(column)` becomes the day number of an ISO 8601 time from the epoch, so the
  difference of two, times 86400, is seconds as in SQLite (a numeric whatever the
  server's version, so `round(x, 3)` takes it; read as a float);
- `instr(text, part)` becomes `strpos(text, part)`;
- `json_each(column, '$.a') AS name`, the elements of a JSON array, becomes the rows of
  `jsonb_array_elements_text`, as text, named `name`, their column `value` as SQLite's.

and, in migrations (`postgres_ddl`), `INTEGER PRIMARY KEY AUTOINCREMENT` becomes an
identity column, `REAL` double precision, and `WITHOUT ROWID` goes.
"""

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

_STRING = r"'(?:[^']|'')*'"
_TOKENS = re.compile(rf"({_STRING})|(\?)|(?<![:\w]):([A-Za-z_]\w*)")
_JSON_EXTRACT = re.compile(r"json_extract\(\s*([\w.]+)\s*,\s*'\$\.([\w.]+)'\s*\)")
_JULIANDAY = re.compile(r"julianday\(\s*([\w.]+)\s*\)")
_INSTR = re.compile(r"\binstr\(")
_JSON_EACH = re.compile(r"json_each\(\s*([\w.]+)\s*,\s*'\$\.([\w.]+)'\s*\)\s+AS\s+(\w+)")


def postgres_sql(sql: str) -> str:
    """`sql` with positional placeholders (`?`) for PostgreSQL."""
    translated, names = _translate(sql)
    if names:
        raise ValueError(f"named placeholders need postgres_query: {sql}")
    return translated


def postgres_query(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> tuple[str, list[Any]]:
    """`sql` and `params` for PostgreSQL, the parameters positional (`:name` ones taken
    from the mapping in the order the statement numbers them)."""
    translated, names = _translate(sql)
    if isinstance(params, Mapping):
        return translated, [params[name] for name in names]
    return translated, list(params)


@lru_cache(maxsize=1024)
def _translate(sql: str) -> tuple[str, tuple[str, ...]]:
    names: list[str] = []
    count = 0

    def placeholder(match: re.Match[str]) -> str:
        nonlocal count
        literal, positional, name = match.groups()
        if literal is not None:
            return literal
        if positional is not None:
            count += 1
            return f"${count}"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    translated = _TOKENS.sub(placeholder, sql)
    if count and names:
        raise ValueError(f"a statement mixes ? and :name placeholders: {sql}")
    translated = _JSON_EXTRACT.sub(_json_path, translated)
    translated = _JSON_EACH.sub(_json_elements, translated)
    translated = _JULIANDAY.sub(
        r"(CAST(EXTRACT(EPOCH FROM CAST(\1 AS timestamptz)) AS NUMERIC) / 86400.0)", translated
    )
    return _INSTR.sub("strpos(", translated), tuple(names)


def _json_path(match: re.Match[str]) -> str:
    column, path = match.groups()
    return f"(CAST({column} AS jsonb) #>> '{{{','.join(path.split('.'))}}}')"


def _json_elements(match: re.Match[str]) -> str:
    column, path, name = match.groups()
    return (
        f"jsonb_array_elements_text(CAST({column} AS jsonb) #> '{{{','.join(path.split('.'))}}}') "
        f"AS {name}(value)"
    )


_DDL = (
    (
        re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"),
        "INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\)\s*WITHOUT ROWID\s*;"), ");"),
)


def postgres_ddl(sql: str) -> str:
    """A migration's SQLite schema statements as PostgreSQL's."""
    for pattern, replacement in _DDL:
        sql = pattern.sub(replacement, sql)
    return sql
