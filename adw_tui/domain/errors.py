"""Errors that carry a message fit to show an operator: what went wrong and what to do."""

from typing import Literal


class AdwError(Exception):
    """Base of every error adw_tui reports to a user; `str(error)` is the one-line message."""


class NotFoundError(AdwError):
    """A run, a version, a dead letter or an issue that the caller named does not exist."""


class RunNotFoundError(NotFoundError):
    def __init__(self, adw_id: str) -> None:
        super().__init__(f"run {adw_id} not found: `adw runs` lists the known runs")
        self.adw_id = adw_id


class VersionNotFoundError(NotFoundError):
    def __init__(self, adw_id: str, version: int, latest: int) -> None:
        super().__init__(
            f"run {adw_id} has no state version {version} (versions 1..{latest} exist): "
            f"`adw history {adw_id}` lists them"
        )
        self.adw_id = adw_id
        self.version = version


class DeadLetterNotFoundError(NotFoundError):
    def __init__(self, letter_id: int) -> None:
        super().__init__(f"dead letter {letter_id} not found: `adw dlq ls` lists them")
        self.letter_id = letter_id


class IssueNotFoundError(NotFoundError):
    def __init__(self, number: int) -> None:
        super().__init__(f"issue {number} not found: `adw issue ls` lists the issues")
        self.number = number


class RunExistsError(AdwError):
    def __init__(self, adw_id: str) -> None:
        super().__init__(f"run {adw_id} already exists; pick another id")
        self.adw_id = adw_id


class ShuttingDownError(AdwError):
    """The orchestrator is closing: it starts no new run (a later one may)."""

    def __init__(self) -> None:
        super().__init__("adw is shutting down: no new runs are started")


class ActiveRunError(AdwError):
    """An issue already has a queued, running or paused run of the workflow: at most one
    at once."""

    def __init__(self, issue: str, workflow: str, adw_id: str, status: str) -> None:
        wait = f"resume it (`adw resume {adw_id}`)" if status == "paused" else "wait for it"
        super().__init__(
            f"issue {issue} already has an active {workflow} run {adw_id} ({status}): "
            f"{wait}, or pass --force to start another"
        )
        self.adw_id = adw_id


class StaleVersionError(AdwError):
    """A compare-and-set save lost the race: someone else wrote a newer version first."""

    def __init__(self, adw_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"run {adw_id} is at version {actual}, not {expected}: another writer saved first; "
            "reload the state and apply the change again"
        )
        self.adw_id = adw_id
        self.expected = expected
        self.actual = actual


class StoreError(AdwError):
    """The state database cannot be used as it is."""


class DatabaseLockedError(StoreError):
    def __init__(self, path: str, waited_s: float) -> None:
        super().__init__(
            f"database {path} stayed locked by another process for {waited_s:g}s; "
            "wait for it to finish or raise ADW_BUSY_TIMEOUT"
        )


class DatabaseUnreachableError(StoreError):
    """The PostgreSQL server stayed away past the reconnect window."""

    def __init__(self, server: str, waited_s: float, detail: str) -> None:
        super().__init__(
            f"lost the connection to PostgreSQL at {server} and it did not come back within "
            f"{waited_s:g}s ({detail}): check that the server runs, then run adw again "
            "(ADW_DB_RECONNECT waits longer)"
        )


class TransactionLostError(StoreError):
    """The connection went away before the transaction committed: nothing of it was
    written, so it may be run again whole (`backend.rerun_when_lost`)."""

    def __init__(self, server: str) -> None:
        super().__init__(
            f"the connection to PostgreSQL at {server} kept dropping mid-transaction; nothing "
            "of it was written: check the server and the network to it, then run adw again"
        )


class DatabaseCorruptError(StoreError):
    def __init__(self, path: str, detail: str) -> None:
        super().__init__(
            f"database {path} cannot be read ({detail}); nothing was written to it: "
            "move it aside and the next command creates a new one"
        )


DatabaseWriteCause = Literal["full", "read_only", "io"]

_WRITE_FAILURES: dict[str, str] = {
    "full": "the disk is full: free some space on it, or pass --db (or ADW_DB) a file on "
    "another disk",
    "read_only": "the file or its directory is read-only: make both writable (chmod, "
    "`chattr -i`, a read-write mount), or pass --db (or ADW_DB) a writable file",
    "io": "the disk refused the write: it may be full, read-only or failing, or the file is "
    "over the file size limit (`ulimit -f`)",
}


class DatabaseWriteError(StoreError):
    """The database file cannot take a write (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR):
    nothing of the failed transaction was written."""

    def __init__(self, path: str, cause: DatabaseWriteCause, detail: str) -> None:
        super().__init__(f"database {path} cannot be written ({detail}): {_WRITE_FAILURES[cause]}")
        self.path = path
        self.cause = cause


class SchemaTooNewError(StoreError):
    def __init__(self, path: str, found: int, known: int) -> None:
        super().__init__(
            f"database {path} has schema version {found} but this adw_tui knows up to {known}; "
            "upgrade adw_tui to use it"
        )


class SchemaMovedError(StoreError):
    """A newer adw migrated the database under a running process of an older one."""

    def __init__(self, path: str, found: int, known: int, version: str) -> None:
        super().__init__(
            f"database {path} was migrated to schema version {found} by a newer adw while "
            f"this process (adw {version}) knows up to {known}; upgrade adw on this host "
            "and start it again"
        )


class ForeignDatabaseError(StoreError):
    def __init__(self, path: str, tables: list[str], engine: str = "SQLite") -> None:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        super().__init__(
            f"{path} is another application's {engine} database (tables: {shown}), not adw's; "
            "nothing was written to it: pass --db (or ADW_DB) a new or adw database"
        )


class ServerTooOldError(StoreError):
    """A PostgreSQL server older than adw needs (see `store.postgres.OLDEST_SERVER`)."""

    def __init__(self, server: str, found: str, needed: int) -> None:
        super().__init__(
            f"PostgreSQL at {server} is version {found}, adw needs {needed} or newer; "
            "nothing was written to it: upgrade the server or point ADW_DB (or --db) at "
            "a newer one"
        )


class DatabaseMissingError(StoreError):
    def __init__(self, path: str) -> None:
        super().__init__(
            f"no adw database at {path} yet: the first run creates it, `adw migrate` imports "
            "legacy runs, or pass --db to use another"
        )


class RunActiveError(AdwError):
    """A rollback was asked of a run that is queued or running: its executor would save
    over the rollback (and fail on the stale version) or work in a reset worktree."""

    def __init__(self, adw_id: str, status: str, owner: str | None) -> None:
        by = f" by {owner}" if owner else ""
        super().__init__(
            f"run {adw_id} is {status}{by}: a run is rolled back only once it has stopped; "
            "wait for it or cancel it (if its process died, run `adw recover` first); "
            "nothing was written"
        )
        self.adw_id = adw_id


class RunClaimedError(AdwError):
    """Another process executes the run (claims are compare-and-set)."""

    def __init__(self, adw_id: str, status: str, owner: str | None) -> None:
        by = f" by {owner}" if owner else ""
        super().__init__(
            f"run {adw_id} is {status}{by}: only one process executes a run; wait for it to finish"
        )
        self.adw_id = adw_id
        self.owner = owner


class TrackerError(AdwError):
    """A call to an issue tracker failed. `transient`: trying again later may work (the
    service down or unreachable, its rate limit spent); otherwise the request itself is
    wrong (the token, the repository, a field) and the message says what to change."""

    def __init__(self, message: str, *, transient: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
