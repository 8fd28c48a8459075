"""What every command needs: where the repository and the database are."""

import argparse
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import ValidationError

from adw_tui.cli.repository import find_repo
from adw_tui.config import CONFIG_FILE, Settings, load_settings, process_redactor
from adw_tui.domain.errors import AdwError, DatabaseMissingError

if TYPE_CHECKING:
    from adw_tui.observability.logs import Audience
    from adw_tui.store import Store
    from adw_tui.store.location import DatabaseLocation
    from adw_tui.trackers.base import IssueTracker

DB_RELATIVE_PATH = Path("agents") / "adw_state.db"
CLI_AUTHOR = "cli"
"""Who the local tracker says wrote the issues made with `adw issue new`."""
DatabaseUse = Literal["create", "existing", "if_any"]


class HeadStart(Protocol):
    """What a command started before adw imported the rest of itself (`adw prompt`: its
    agent), for its handler to take over; `main` ends whatever was not taken."""

    def discard(self) -> None: ...


@dataclass
class CliContext:
    """Paths resolved from `--repo`, `--db`, the environment and the working directory;
    the command's head start, if it made one."""

    repo_option: Path | None = None
    db_option: str | None = None
    tracker_option: str | None = None
    cwd: Path = field(default_factory=Path.cwd)
    head_start: HeadStart | None = None

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, head_start: HeadStart | None = None
    ) -> "CliContext":
        return cls(
            repo_option=args.repo,
            db_option=args.db,
            tracker_option=args.tracker,
            head_start=head_start,
        )

    @cached_property
    def settings(self) -> Settings:
        """`ADW_*` variables over the repository's `.adw/config.toml` (when there is one),
        under the global flags (`--tracker`)."""
        try:
            repo: Path | None = self.repo
        except AdwError:
            repo = None
        try:
            settings = load_settings(repo)
            if self.tracker_option is not None:
                settings = settings.model_copy(update={"tracker": self.tracker_option})
            return settings
        except ValidationError as error:
            first = error.errors()[0]
            field_name = "_".join(str(part) for part in first["loc"])
            raise SettingsError(
                f"invalid setting {field_name} (ADW_{field_name.upper()} or {CONFIG_FILE}): "
                f"{first['msg']}"
            ) from error
        except tomllib.TOMLDecodeError as error:
            raise SettingsError(f"{repo and repo / CONFIG_FILE}: invalid TOML: {error}") from error

    @cached_property
    def repo(self) -> Path:
        """The target repository: `--repo`, else the git top level of the working directory."""
        return find_repo(self.repo_option, self.cwd)

    @cached_property
    def db_path(self) -> "DatabaseLocation":
        """`--db`, else `ADW_DB`, else `<repo>/agents/adw_state.db`: a file, or a
        PostgreSQL DSN (`postgresql://...`; shown masked)."""
        from adw_tui.store.location import database_location

        explicit = self.db_option or self.settings.db
        if explicit is not None:
            return database_location(explicit)
        return self.repo / DB_RELATIVE_PATH

    @property
    def state_dir(self) -> Path:
        """Where this repository's logs and traces go: beside the SQLite file, or in
        `<repo>/agents` when the database is a PostgreSQL server."""
        location = self.db_path
        if isinstance(location, Path):
            return location.parent
        return self.repo / DB_RELATIVE_PATH.parent

    def start_observability(self, audience: "Audience", *, log_dir: Path | None = None) -> None:
        """This command's structured logs (`adw_tui.observability.logs`): to `adw.log`
        in `log_dir` (default: beside the database), and to stderr as `audience` wants;
        and its traces (`adw_tui.observability.traces`): to the OTLP endpoint the
        environment names, else to `traces.jsonl` beside the log."""
        from adw_tui.observability.logs import configure_logging
        from adw_tui.observability.traces import configure_tracing

        settings = self.settings
        if log_dir is None:
            try:
                log_dir = self.state_dir
            except AdwError:  # outside a repository, with no --db: stderr alone
                log_dir = None
        configure_logging(
            log_dir,
            audience,
            level=settings.log_level,
            stderr_format=settings.log_format,
            max_bytes=settings.log_max_bytes,
            backups=settings.log_backups,
        )
        configure_tracing(log_dir)

    async def open_store(self, *, create: bool = True) -> "Store":
        from adw_tui.store import Store  # not every command needs the store (`adw prompt`)

        return await Store.open(
            self.db_path,
            create=create,
            busy_timeout_s=self.settings.busy_timeout,
            reconnect_s=self.settings.db_reconnect,
            synchronous=self.settings.db_synchronous,
            redactor=process_redactor(),
        )

    @asynccontextmanager
    async def existing_store(self) -> AsyncIterator["Store | None"]:
        """The store, or None when there is no database yet (a listing of nothing; none
        is created)."""
        try:
            store: Store | None = await self.open_store(create=False)
        except DatabaseMissingError:
            store = None
        if store is None:
            yield None
            return
        async with store:
            yield store

    @asynccontextmanager
    async def open_tracker(self, database: DatabaseUse) -> AsyncIterator["IssueTracker | None"]:
        """The configured tracker, closed after use. The local one's database is made if
        missing ("create"), must be there ("existing": DatabaseMissingError) or may be
        missing ("if_any": then None, a tracker of no issues)."""
        from adw_tui.trackers.configured import remote_tracker
        from adw_tui.trackers.local import LocalTracker

        try:
            repo = self.repo
        except AdwError:  # a remote tracker named in the settings needs no checkout
            repo = self.cwd
        remote = remote_tracker(self.settings, repo)
        if remote is not None:
            try:
                yield remote
            finally:
                await remote.aclose()
        elif database == "if_any":
            async with self.existing_store() as store:
                yield None if store is None else LocalTracker(store, author=CLI_AUTHOR)
        else:
            async with await self.open_store(create=database == "create") as store:
                yield LocalTracker(store, author=CLI_AUTHOR)


class SettingsError(AdwError):
    """The environment or `.adw/config.toml` holds a value adw cannot use (exit code 2)."""
