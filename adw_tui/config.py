"""Settings: `ADW_*` environment variables, then `<repo>/.adw/config.toml`, then defaults.

Command-line flags override all three.

The two sources are read by `adw_tui.config_sources`, not by pydantic-settings: importing
it (its CLI, cloud and dotenv sources) cost every `adw` command about a tenth of its
start, for two sources of a few lines. Unknown names are ignored.
"""

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal, get_origin

from pydantic import ConfigDict, Field, SecretStr

from adw_tui.config_sources import CONFIG_FILE as CONFIG_FILE  # re-exported
from adw_tui.config_sources import source_values
from adw_tui.domain.breakers import BreakerOpenAction, BreakerPolicy
from adw_tui.domain.model_sets import ModelSetName, engine_model_set
from adw_tui.domain.modeling import Model
from adw_tui.domain.redaction import Redactor
from adw_tui.domain.scouts import DEFAULT_SCOUT_TIMEOUT, ScoutSpec
from adw_tui.domain.workflow import DEFAULT_NON_RETRYABLE, ErrorClassName, RetryPolicy


@cache
def process_redactor() -> Redactor:
    """The redactor of this process: the secrets of its environment, read once."""
    return Redactor.from_environ(os.environ)


# The seed's scouts, in its order: what `scale: N` takes the first N of.
DEFAULT_SCOUTS = (
    ScoutSpec(engine="gemini", model="gemini-2.5-flash"),
    ScoutSpec(engine="opencode"),
    ScoutSpec(engine="gemini", model="gemini-2.5-flash-lite"),
    ScoutSpec(engine="codex"),
    ScoutSpec(engine="claude", model="haiku"),
)
# List prices, US dollars per million input / output tokens. A model is priced by the
# longest of these names it contains (`gpt-5.1-codex-mini` before `gpt-5.1-codex`).
DEFAULT_MODEL_PRICES: dict[str, tuple[float, float]] = {
    "opus": (5.0, 25.0),
    "sonnet": (3.0, 15.0),
    "haiku": (1.0, 5.0),
    "gpt-5.1-codex": (1.25, 10.0),
    "gpt-5.1-codex-mini": (0.25, 2.0),
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gemini-2.5-pro": (1.25, 10.0),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
}


class Settings(Model):
    """Process-wide settings; command-line flags override them. `load_settings` reads
    them; `Settings()` is the defaults alone."""

    model_config = ConfigDict(extra="ignore")

    db: str | None = Field(
        default=None,
        description="State database: a file, or a postgresql:// DSN; default "
        "<repo>/agents/adw_state.db",
    )
    busy_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for another process's write lock"
    )
    db_reconnect: float = Field(
        default=60.0,
        ge=0,
        description="Seconds a command waits, with backoff, for a PostgreSQL server that went "
        "away (a restart) before it fails; 0 fails at once",
    )
    db_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="SQLite synchronous mode: FULL survives power loss, NORMAL only crashes",
    )
    claude_permission_mode: str | None = Field(
        default=None,
        description="--permission-mode for Claude Code; unset runs with "
        "--dangerously-skip-permissions, as the original ADW did",
    )
    codex_sandbox: Literal["read-only", "workspace-write", "danger-full-access"] | None = Field(
        default=None,
        description="--sandbox for Codex; unset runs it with "
        "--dangerously-bypass-approvals-and-sandbox, as Claude Code runs without permission checks",
    )
    agent_env: list[str] = Field(
        default_factory=list,
        description="extra environment variables agents may see (JSON list; `PREFIX_*` allowed)",
    )
    agent_timeout: float = Field(default=3600.0, gt=0, description="seconds for a whole agent call")
    agent_idle_timeout: float = Field(
        default=600.0, gt=0, description="seconds an agent may go without output"
    )
    kill_grace: float = Field(
        default=5.0, ge=0, description="seconds between SIGTERM and SIGKILL of an agent"
    )
    web_token: SecretStr | None = Field(
        default=None,
        description="token `adw web` asks of the browser; default: a new random one per start",
    )
    max_concurrent: int = Field(default=15, ge=1, description="runs executing at once")
    fleet: bool = Field(
        default=False,
        description="new runs the dashboard, the webhook and the poller start are queued for "
        "the fleet's workers (`adw worker`) instead of run by that process",
    )
    transcript_retention_days: float = Field(
        default=7.0,
        gt=0,
        description="days fleet runs' agent transcripts stay in the database (the files "
        "on each worker's host stay as they are)",
    )
    transcript_retention_mb: float = Field(
        default=512.0,
        gt=0,
        description="megabytes (millions of characters) of fleet runs' agent transcripts "
        "kept in the database at most: workers prune the oldest chunks past it",
    )
    heartbeat_interval: float = Field(
        default=10.0,
        gt=0,
        description="seconds between a process's heartbeats for the runs it executes; a "
        "worker takes over a run on another host after six are missed",
    )
    max_issue_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        description="bytes of an issue body prompts quote; the full text goes to a file",
    )
    memory_limit_percent: float = Field(
        default=90.0, gt=0, le=100, description="new runs wait while system memory is above this"
    )
    base_branch: str | None = Field(
        default=None, description="branch worktrees start from; default: the repo's default branch"
    )
    copy_files: list[str] = Field(
        default_factory=lambda: [".env"], description="files copied into each new worktree"
    )
    trees_dir: str | None = Field(
        default=None,
        description="where run worktrees go (relative to the repository, or absolute); "
        "default: <repo>/trees",
    )
    worktree_setup: str | None = Field(
        default=None,
        description="shell command run in each new worktree before its first step (install "
        "dependencies, copy env files); default: .adw/hooks/worktree-setup if it exists",
    )
    worktree_setup_timeout: float = Field(
        default=600.0, gt=0, description="seconds the worktree set-up may take"
    )
    backend_port_start: int = Field(default=9100, ge=1024, le=65000)
    frontend_port_start: int = Field(default=9200, ge=1024, le=65000)
    port_count: int = Field(default=15, ge=1, le=1000, description="port pairs to hand out")
    retry_max_attempts: int = Field(
        default=3, ge=1, le=100, description="calls of a step's agent in all, retries included"
    )
    retry_initial: float = Field(
        default=2.0, ge=0, description="seconds before a step's first retry"
    )
    retry_backoff: float = Field(
        default=2.0, ge=1, description="each wait between retries is this times the last"
    )
    retry_max: float = Field(default=60.0, ge=0, description="longest wait between retries")
    retry_jitter: float = Field(
        default=1.0, ge=0, description="seconds of random extra wait, at most, per retry"
    )
    retry_non_retryable: list[ErrorClassName] = Field(
        default_factory=lambda: list(DEFAULT_NON_RETRYABLE),
        description="error classes never retried (JSON list)",
    )
    agent_memory_limit_mb: int = Field(
        default=4096, ge=16, description="an agent process tree over this is stopped"
    )
    memory_sample_interval: float = Field(
        default=2.0, gt=0, description="seconds between samples of an agent's memory"
    )
    rate_limits: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description='calls per period for an engine or tracker, e.g. {"claude": [50, 60]}',
    )
    recover_action: Literal["resume", "dead_letter"] = Field(
        default="resume",
        description="what `adw recover` and `adw run` do with runs a dead process left behind",
    )
    shutdown_grace: float = Field(
        default=30.0, ge=0, description="seconds running steps get to finish on SIGINT/SIGTERM"
    )
    engine: Literal["claude", "sim", "codex", "gemini", "opencode"] = Field(
        default="claude", description="default agent engine"
    )
    engine_models: dict[str, dict[ModelSetName, str]] = Field(
        default_factory=dict,
        description="the model of each model set (base, heavy) per engine, over the defaults "
        'of `adw config`, e.g. {"codex": {"base": "gpt-5.1-codex-mini", "heavy": "gpt-5.1-codex"}}',
    )
    model_prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="US dollars per million input and output tokens by model (an id or a part "
        "of one), over the built-in list prices; prices the calls of engines that report no "
        'cost, e.g. {"gpt-5.1-codex": [1.25, 10]}',
    )
    scouts: list[ScoutSpec] = Field(
        default_factory=lambda: list(DEFAULT_SCOUTS),
        min_length=1,
        description="the scouts a workflow's `scale: N` scout step runs: the first N of this "
        "list, round robin past its end (JSON list of {engine, model, timeout}; model: the "
        "engine's base model when left out; timeout: `scout_timeout` when left out), e.g. "
        '[{"engine": "gemini", "model": "gemini-2.5-flash"}, {"engine": "claude", "model": '
        '"haiku"}]',
    )
    scout_timeout: float = Field(
        default=DEFAULT_SCOUT_TIMEOUT,
        gt=0,
        description="seconds a scout may run before it is skipped (never retried), unless "
        "its own `timeout` or its step's says otherwise",
    )
    docs_fetch_timeout: float = Field(
        default=20.0,
        gt=0,
        description="seconds the `fetch_docs` action gives each documentation link of an issue",
    )
    docs_fetch_private: bool = Field(
        default=False,
        description="let `fetch_docs` fetch links to loopback, private and link-local "
        "addresses (an issue's author chooses the links: keep it off for public trackers)",
    )
    tracker: Literal["local", "github"] = Field(
        default="local",
        description="where issues come from: local (kept in the database) or github",
    )
    github_repo: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description="owner/name of the GitHub repository; default: read from the origin remote",
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        pattern=r"^https?://",
        description="GitHub's REST API root; GitHub Enterprise Server: https://HOST/api/v3",
    )
    github_max_wait: float = Field(
        default=900.0,
        ge=0,
        description="longest wait, in seconds, for GitHub's rate limit before a call fails",
    )
    notify_command: str | None = Field(
        default=None,
        description="shell command run for each run that ends or waits, with the event as "
        "one JSON line on stdin (notify-send, a Slack webhook, ntfy)",
    )
    report_timeout: float = Field(
        default=60.0,
        gt=0,
        description="seconds a report on a run's issue (a comment, a label) may hold the run, "
        "waiting out a rate limit say, before it is skipped",
    )
    label_running: str = Field(
        default="adw:running", min_length=1, description="label of an issue a run works on"
    )
    label_succeeded: str = Field(
        default="adw:succeeded", min_length=1, description="label of an issue whose run succeeded"
    )
    label_failed: str = Field(
        default="adw:failed", min_length=1, description="label of an issue whose run failed"
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="secret of the GitHub webhook: `adw webhook` checks X-Hub-Signature-256 "
        "with it (never logged or stored)",
    )
    webhook_default_workflow: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="workflow a trigger runs for an opened issue naming no adw_<workflow> "
        "keyword; unset: such issues are ignored",
    )
    trigger_associations: list[str] = Field(
        default_factory=lambda: ["OWNER", "MEMBER", "COLLABORATOR"],
        description="whose issues and comments may start runs on GitHub, by their relation "
        "to the repository (JSON list; add CONTRIBUTOR, NONE, ... to widen)",
    )
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="consecutive transient failures that open a breaker"
    )
    breaker_cooldown: float = Field(
        default=60.0, gt=0, description="seconds an open breaker refuses calls before a probe"
    )
    breaker_success_threshold: int = Field(
        default=1, ge=1, description="consecutive successful probes that close a breaker"
    )
    breaker_open_action: BreakerOpenAction = Field(
        default="wait",
        description="a step refused by an open breaker waits for it, or dead-letters at once",
    )

    run_budget_usd: float | None = Field(
        default=None,
        gt=0,
        description="US dollars a run may spend: past it, the run is stopped before its next "
        "agent call and dead-lettered (error class budget; replay it after raising this)",
    )
    daily_budget_usd: float | None = Field(
        default=None,
        gt=0,
        description="US dollars all runs may spend in a day (UTC): past it, new runs wait in "
        "the queue (as `budget`) until the next day or a raise",
    )
    log_format: Literal["json", "console"] | None = Field(
        default=None,
        description="stderr's log lines: json (the default of adw webhook, poll and serve) "
        "or console (plain lines; the default of the other commands); agents/adw.log is "
        "always JSON",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="the least level logged (the interactive commands show only warnings "
        "and errors on stderr); DEBUG adds every agent event",
    )
    log_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="size at which agents/adw.log rotates"
    )
    log_backups: int = Field(
        default=5, ge=0, description="rotated agents/adw.log files kept (adw.log.1 newest)"
    )

    def model_set(self, engine: str) -> dict[ModelSetName, str]:
        """The models of `engine`'s base and heavy sets (`engine_model_set`)."""
        return engine_model_set(engine, self.engine_models)

    def price_table(self) -> dict[str, tuple[float, float]]:
        """Prices per million (input, output) tokens: the configured ones over the list
        prices."""
        return {**DEFAULT_MODEL_PRICES, **self.model_prices}

    def trees_path(self, repo: Path) -> Path:
        """The directory of run worktrees: `trees_dir` (relative to `repo`), else trees/."""
        return repo / (self.trees_dir or "trees")

    def retry_policy(self) -> RetryPolicy:
        """The retry policy of every step that does not override it."""
        return RetryPolicy(
            max_attempts=self.retry_max_attempts,
            initial_interval=self.retry_initial,
            backoff_coefficient=self.retry_backoff,
            max_interval=self.retry_max,
            jitter=self.retry_jitter,
            non_retryable=list(self.retry_non_retryable),
        )

    def breaker_policy(self) -> BreakerPolicy:
        """The circuit breakers' thresholds; a half-open probe that has not reported
        within the agent timeout is presumed lost with its process."""
        return BreakerPolicy(
            failure_threshold=self.breaker_failure_threshold,
            success_threshold=self.breaker_success_threshold,
            cooldown_s=self.breaker_cooldown,
            probe_timeout_s=self.agent_timeout,
        )


def load_settings(repo: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for `repo`: the environment (`os.environ` unless given) wins over its
    `.adw/config.toml`. Raises pydantic's ValidationError for a value of the wrong type
    and tomllib's TOMLDecodeError for a broken file."""
    source = os.environ if environ is None else environ
    return Settings.model_validate(source_values(repo, source, Settings.model_fields, _JSON_FIELDS))


_JSON_FIELDS = frozenset(
    name
    for name, info in Settings.model_fields.items()
    if get_origin(info.annotation) in (list, dict, tuple, set)
)
