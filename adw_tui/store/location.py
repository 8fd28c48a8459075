"""Where the state lives: a SQLite file (a path) or a PostgreSQL server (a DSN).

`--db` and `ADW_DB` take either: `postgresql://` or `postgres://` selects PostgreSQL,
anything else is a file path. A DSN is shown and logged masked (its password replaced by
`***`); the password itself is only ever handed to the driver.
"""

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from adw_tui.domain.errors import StoreError

SCHEMES = ("postgresql", "postgres")
MASK = "***"
EXAMPLE_DSN = "postgresql://user:password@host:5432/database"


@dataclass(frozen=True)
class PostgresDsn:
    """A PostgreSQL connection string; `str()` of it is masked, never the password."""

    url: str

    @property
    def password(self) -> str | None:
        """The password, from the authority or a `password=` query parameter."""
        parts = urlsplit(self.url)
        query = dict(parse_qsl(parts.query))
        return parts.password or query.get("password")

    @property
    def masked(self) -> str:
        parts = urlsplit(self.url)
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.partition(":")[0]
            netloc = f"{user}:{MASK}@{hostport}"
        query = [(k, MASK if k == "password" else v) for k, v in parse_qsl(parts.query)]
        shown = f"{parts.scheme}://{netloc}{parts.path}"  # (urlunsplit drops an empty host)
        return f"{shown}?{urlencode(query, safe='/*')}" if query else shown

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"PostgresDsn({self.masked!r})"


DatabaseLocation = Path | PostgresDsn


def is_dsn(value: str) -> bool:
    return value.partition("://")[0].lower() in SCHEMES and "://" in value


def database_location(value: str | Path) -> DatabaseLocation:
    """`value` as a file path, or as a DSN when it starts with `postgresql://` (or
    `postgres://`); a malformed DSN is a StoreError naming it (masked) and the form."""
    if isinstance(value, Path) or not is_dsn(value):
        return Path(value).expanduser().resolve()
    dsn = PostgresDsn(value)
    problem = _problem(value)
    if problem is not None:
        raise StoreError(
            f"malformed PostgreSQL DSN {_masked_or_hidden(dsn)} ({problem}): "
            f"pass --db (or ADW_DB) as {EXAMPLE_DSN}"
        )
    return dsn


def _problem(value: str) -> str | None:
    """What is wrong with a DSN, or None."""
    if any(c.isspace() for c in value):
        return "it contains white space"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as error:
        return str(error)
    host = parts.hostname or dict(parse_qsl(parts.query)).get("host")
    if not host:
        return "no host"
    if not parts.path.strip("/"):
        return "no database name after the host"
    return None


def _masked_or_hidden(dsn: PostgresDsn) -> str:
    """The masked DSN, or only its scheme when it cannot even be split to mask it."""
    try:
        return dsn.masked
    except ValueError:
        return f"{dsn.url.partition('://')[0]}://{MASK}"
