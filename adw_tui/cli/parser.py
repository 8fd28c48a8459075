"""The `adw` argument parser.

It names each command's handler as "module:function" under `adw_tui.cli.commands`, so
that only the chosen command's module (and what it needs) is imported: `adw --help`
and quick commands start fast. It imports nothing but the standard library and a few
tiny modules of names (engines, model sets, statuses).
"""

from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from adw_tui import __version__
from adw_tui.agents.names import ENGINE_NAMES
from adw_tui.cli.args import (
    AddParser,
    ArgumentParser,
    add_listing_options,
    adw_id_arg,
    at_least_two_arg,
    budget_arg,
    labels_arg,
    names_arg,
    positive_float_arg,
    positive_int_arg,
    since_arg,
)
from adw_tui.domain.model_sets import MODEL_SETS

# The values of RunStatus, DeadLetterStatus and IssueState, written out: the domain
# models import pydantic, which `--help` and `--version` do not need
# (tests/cli/test_start.py checks that they agree).
RUN_STATUSES = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "dead_lettered",
    "cancelled",
    "interrupted",
    "paused",
)
# Ended runs: their worktrees can go (a replay makes one again from the branch).
PRUNABLE_STATUSES = ("succeeded", "failed", "dead_lettered", "cancelled", "interrupted")
LETTER_STATUSES = ("pending", "replayed", "dropped")
ISSUE_STATES = ("open", "closed", "all")
TRACKERS = ("local", "github")


def build_parser(commands: Collection[str] | None = None) -> ArgumentParser:
    """The parser of every command; given `commands` (`commands_named`), of those alone
    (and of those declared with them). argparse looks each of its own messages up with
    gettext, a few file lookups per message and per parser: the fifty-odd parsers of every
    command took some 10 ms of every start."""
    parser = ArgumentParser(
        prog="adw",
        description="Drive AI coding agents from issue to reviewed branch.",
    )
    parser.add_argument("--version", action="version", version=f"adw {__version__}")
    parser.add_argument(
        "--repo", type=Path, help="target repository (default: git top level of the cwd)"
    )
    parser.add_argument(
        "--db",
        help="state database: a file, or postgresql://user:password@host/database "
        "(default: $ADW_DB or <repo>/agents/adw_state.db)",
    )
    parser.add_argument(
        "--tracker",
        choices=TRACKERS,
        help="where issues come from (default: $ADW_TRACKER, else local: the database)",
    )
    # No command opens the dashboard, as `adw tui` does.
    parser.set_defaults(handler="tui:run_tui", head_start=None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", help="(default: tui)")
    for names, add in COMMAND_GROUPS.items():
        if commands is None or set(names) & set(commands):
            add(subparsers.add_parser)
    return parser


VALUED_OPTIONS = ("--repo", "--db", "--tracker")
"""The options before the command that take a value."""


def commands_named(argv: Sequence[str]) -> tuple[str, ...] | None:
    """The commands `argv` needs the parser of: the one it names, none when it names none
    (the dashboard); None (every one) when that cannot be told without parsing: `--help`,
    `--version`, an abbreviated option, a word that is no command."""
    tokens = iter(argv)
    for token in tokens:
        if token in VALUED_OPTIONS:
            next(tokens, None)
        elif not token.startswith(tuple(f"{option}=" for option in VALUED_OPTIONS)):
            return (token,) if any(token in names for names in COMMAND_GROUPS) else None
    return ()


def _add_runs(add_parser: AddParser) -> None:
    runs = add_parser("runs", help="list runs, most recently updated first")
    add_listing_options(runs, "runs")
    runs.add_argument("--status", choices=RUN_STATUSES, help="only runs with this status")
    runs.add_argument("--workflow", help="only runs of this workflow")
    runs.set_defaults(handler="runs:list_runs")

    show = add_parser("show", help="show a run and its current state")
    show.add_argument("adw_id", type=adw_id_arg)
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler="show:show_run")

    history = add_parser("history", help="list a run's state versions, newest first")
    history.add_argument("adw_id", type=adw_id_arg)
    add_listing_options(history, "versions")
    history.set_defaults(handler="runs:show_history")

    diff = add_parser("diff", help="show what changed between two state versions")
    diff.add_argument("adw_id", type=adw_id_arg)
    diff.add_argument("old", type=positive_int_arg, metavar="V1")
    diff.add_argument("new", type=positive_int_arg, metavar="V2")
    diff.set_defaults(handler="show:show_diff")

    rollback = add_parser(
        "rollback", help="write a new version equal to an old one (nothing is deleted)"
    )
    rollback.add_argument("adw_id", type=adw_id_arg)
    rollback.add_argument("version", type=positive_int_arg)
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rollback.add_argument(
        "--reset-worktree",
        action="store_true",
        help="also `git reset --hard` the run's worktree to the version's commit "
        "(refused when the worktree has uncommitted changes)",
    )
    rollback.set_defaults(handler="show:rollback_run")


def _add_dlq(add_parser: AddParser) -> None:
    dlq = add_parser("dlq", help="dead letters: runs that failed for good")
    commands = dlq.add_subparsers(dest="dlq_command", metavar="COMMAND", required=True)

    ls = commands.add_parser("ls", help="list dead letters (pending ones by default), newest first")
    add_listing_options(
        ls, "letters", all_help="every letter (and, without --status, of every status)"
    )
    ls.add_argument(
        "--status",
        choices=(*LETTER_STATUSES, "any"),
        help="only letters with this status (default: pending; `any`: all)",
    )
    ls.add_argument("--error-class", help="only letters of this error class")
    ls.add_argument("--workflow", help="only letters of this workflow")
    ls.set_defaults(handler="dlq:list_letters")

    show = commands.add_parser("show", help="show one dead letter with its request")
    show.add_argument("letter_id", type=positive_int_arg, metavar="ID")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler="dlq:show_letter")

    drop = commands.add_parser("drop", help="take a letter off the queue (it is kept, marked)")
    drop.add_argument("letter_id", type=positive_int_arg, metavar="ID")
    drop.set_defaults(handler="dlq:drop_letter")

    replay = commands.add_parser(
        "replay", help="run dead-lettered runs again (from the failed step by default)"
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("letter_id", nargs="?", type=positive_int_arg, metavar="ID")
    which.add_argument("--all", action="store_true", help="every pending letter (see filters)")
    replay.add_argument("--error-class", help="with --all: only letters of this error class")
    replay.add_argument("--workflow", help="with --all: only letters of this workflow")
    replay.add_argument(
        "--from-start", action="store_true", help="start over with the run's first state"
    )
    replay.add_argument(
        "--engine", choices=ENGINE_NAMES, help="agent engine (default: the one that failed)"
    )
    replay.set_defaults(handler="dlq:replay_letters")


def _add_breakers(add_parser: AddParser) -> None:
    breakers = add_parser(
        "breakers", help="circuit breakers of the engines and trackers, and their state"
    )
    breakers.add_argument("--json", action="store_true", help="print a JSON list")
    breakers.set_defaults(handler="breakers:list_breakers")
    commands = breakers.add_subparsers(dest="breakers_command", metavar="COMMAND")

    reset = commands.add_parser("reset", help="close a breaker now and clear its counts")
    reset.add_argument("name", metavar="NAME", help="an engine or tracker: claude, sim, local...")
    reset.set_defaults(handler="breakers:reset_breaker")


def _add_issue(add_parser: AddParser) -> None:
    issue = add_parser("issue", help="issues of the tracker (local: kept in the database)")
    commands = issue.add_subparsers(dest="issue_command", metavar="COMMAND", required=True)

    new = commands.add_parser("new", help="open an issue")
    new.add_argument("--title", required=True, help="a one-line summary")
    body = new.add_mutually_exclusive_group()
    body.add_argument("--body", default="", help="the description")
    body.add_argument(
        "--body-file", metavar="FILE", help="read the description from FILE (`-`: stdin)"
    )
    new.add_argument("--json", action="store_true", help="print the issue as JSON")
    new.set_defaults(handler="issue:new_issue")

    ls = commands.add_parser("ls", help="list issues, newest first")
    add_listing_options(ls, "issues")
    ls.add_argument(
        "--state", choices=ISSUE_STATES, default="open", help="issues in this state (default: open)"
    )
    ls.set_defaults(handler="issue:list_issues")

    show = commands.add_parser("show", help="show an issue with its body and comments")
    show.add_argument("number", type=positive_int_arg, metavar="N")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler="issue:show_issue")


def _add_prompt(add_parser: AddParser) -> None:
    prompt = add_parser("prompt", help="run one agent call and show it live")
    prompt.add_argument("text", metavar="TEXT", help="the prompt, or `/command args`")
    prompt.add_argument("--engine", choices=ENGINE_NAMES, default="claude")
    prompt.add_argument(
        "--model", help="model alias or id (default: the engine's base model, sonnet for claude)"
    )
    prompt.add_argument("--cwd", type=Path, help="where the agent works (default: here)")
    prompt.add_argument("--agent-name", default="ops", help="output folder name (default: ops)")
    prompt.add_argument(
        "--timeout", type=positive_float_arg, help="seconds for the whole call (default 3600)"
    )
    prompt.add_argument(
        "--idle-timeout", type=positive_float_arg, help="seconds without output (default 600)"
    )
    prompt.add_argument("--max-turns", type=positive_int_arg)
    prompt.add_argument("--resume", metavar="SESSION_ID", help="continue an agent's session")
    prompt.add_argument(
        "--json", action="store_true", help="print the result as JSON (transcript to stderr)"
    )
    prompt.set_defaults(handler="prompt:run_prompt", head_start="prompt_start:start_agent")


def _add_migrate(add_parser: AddParser) -> None:
    migrate = add_parser(
        "migrate", help="import legacy agents/*/adw_state.json files (safe to run again)"
    )
    migrate.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="DIR",
        help="folder holding <adw_id>/adw_state.json (default: <repo>/agents)",
    )
    migrate.add_argument("--json", action="store_true", help="print one JSON object per file")
    migrate.set_defaults(handler="migrate:migrate_legacy")


def _add_doctor(add_parser: AddParser) -> None:
    doctor = add_parser("doctor", help="check binaries, the database and free disk")
    doctor.add_argument("--json", action="store_true", help="print a JSON list of checks")
    doctor.set_defaults(handler="doctor:run_doctor")


def _add_run(add_parser: AddParser) -> None:
    run = add_parser("run", help="run a workflow for an issue, headless, with live progress")
    run.add_argument("issue", type=positive_int_arg, metavar="ISSUE", help="issue number")
    run.add_argument("--workflow", default="sdlc", help="workflow name (default: sdlc)")
    run.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        help="agent engine (default: a continued run's own; else ADW_ENGINE, else claude)",
    )
    run.add_argument("--model-set", choices=MODEL_SETS, default="base")
    run.add_argument(
        "--adw-id", type=adw_id_arg, help="continue this run from its last completed step"
    )
    run.add_argument(
        "--force", action="store_true", help="start even if the issue has an active run of it"
    )
    run.add_argument("--json", action="store_true", help="print the final run as JSON")
    run.add_argument(
        "--best-of",
        type=at_least_two_arg,
        metavar="N",
        help="start N runs of the issue side by side, then compare them (`adw choose` one)",
    )
    run.add_argument(
        "--engines",
        type=names_arg(ENGINE_NAMES, "engine"),
        metavar="A,B",
        help="with --best-of: the runs' engines, in turn (default: --engine's)",
    )
    run.add_argument(
        "--model-sets",
        type=names_arg(MODEL_SETS, "model set"),
        metavar="A,B",
        help="with --best-of: the runs' model sets, in turn (default: --model-set's)",
    )
    run.add_argument(
        "--enqueue",
        action="store_true",
        help="queue the run for the fleet's workers (`adw worker`), print its id, return",
    )
    run.add_argument(
        "--labels",
        type=labels_arg,
        metavar="A,B",
        help="with --enqueue: labels the worker must have (such as gpu)",
    )
    run.set_defaults(handler="run:run_workflow")

    worker = add_parser(
        "worker", help="run the runs queued for the fleet (`adw run --enqueue`), until Ctrl-C"
    )
    worker.add_argument(
        "--slots",
        type=positive_int_arg,
        default=None,
        help="runs at once (default: ADW_MAX_CONCURRENT)",
    )
    worker.add_argument("--name", help="this worker's name in `adw workers` (default: host:pid)")
    worker.add_argument(
        "--engines",
        type=names_arg(ENGINE_NAMES, "engine"),
        metavar="A,B",
        help="take only runs on these engines (default: any)",
    )
    worker.add_argument(
        "--labels",
        type=labels_arg,
        metavar="A,B",
        help="what this host has (such as gpu): runs asking for a label only go to workers with it",
    )
    worker.set_defaults(handler="fleet:run_worker")

    workers = add_parser("workers", help="the fleet's workers: host, slots, runs, heartbeat")
    workers.add_argument("--json", action="store_true", help="print them as JSON")
    workers.set_defaults(handler="fleet:list_workers")

    compare = add_parser("compare", help="runs side by side: tests, review, diff, cost, time")
    compare.add_argument(
        "adw_ids", type=adw_id_arg, nargs="+", metavar="ADW_ID", help="runs (one: its group)"
    )
    compare.add_argument("--json", action="store_true", help="print them as JSON")
    compare.set_defaults(handler="best_of:compare_runs")

    choose = add_parser("choose", help="choose the run of a best-of group whose branch goes on")
    choose.add_argument("adw_id", type=adw_id_arg, metavar="ADW_ID")
    choose.set_defaults(handler="best_of:choose_run")


def _add_tui(add_parser: AddParser) -> None:
    tui = add_parser("tui", help="the live dashboard on the repository (also: `adw` alone)")
    tui.set_defaults(handler="tui:run_tui")


def _add_web(add_parser: AddParser) -> None:
    web = add_parser("web", help="serve the dashboard in a browser (textual-serve)")
    web.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    web.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1; anyone who can reach it controls your runs)",
    )
    web.set_defaults(handler="web:serve_web")


def _add_demo(add_parser: AddParser) -> None:
    demo = add_parser(
        "demo",
        help="the dashboard on a sample repository, five issues run by the simulated agent",
    )
    demo.add_argument(
        "--dir", type=Path, help="where to create the sample repository (default: a new temp dir)"
    )
    demo.add_argument("--headless", action="store_true", help="print progress, no dashboard")
    demo.set_defaults(handler="demo:run_demo")


def _add_workflows(add_parser: AddParser) -> None:
    workflows = add_parser(
        "workflows", help="list the workflows (built-in and the repository's .adw/workflows)"
    )
    workflows.add_argument("--json", action="store_true", help="print a JSON list")
    workflows.set_defaults(handler="workflows:list_workflows")
    commands = workflows.add_subparsers(dest="workflows_command", metavar="COMMAND")

    show = commands.add_parser("show", help="show a workflow's states and transitions")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", help="print the definition as JSON")
    show.set_defaults(handler="workflows:show_workflow")


def _add_recover(add_parser: AddParser) -> None:
    recover = add_parser(
        "recover", help="settle runs a dead process left running, then resume them"
    )
    recover.add_argument(
        "--dead-letter", action="store_true", help="dead-letter interrupted runs, do not resume"
    )
    recover.add_argument("--json", action="store_true", help="print what was recovered as JSON")
    recover.set_defaults(handler="recover:recover_runs")


def _add_pause(add_parser: AddParser) -> None:
    pause = add_parser("pause", help="pause a running run: its step stops, its slot is freed")
    pause.add_argument("adw_id", type=adw_id_arg)
    pause.add_argument(
        "--wait",
        type=positive_float_arg,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the process running it to pause it (default: 30)",
    )
    pause.set_defaults(handler="pause:pause_run")

    resume = add_parser(
        "resume", help="go on with a paused run here, from the step it was paused in"
    )
    resume.add_argument("adw_id", type=adw_id_arg)
    resume.set_defaults(handler="pause:resume_run")


def _add_worktrees(add_parser: AddParser) -> None:
    worktrees = add_parser(
        "worktrees", help="the runs' worktrees on disk: list them, remove them, prune old ones"
    )
    commands = worktrees.add_subparsers(dest="worktrees_command", metavar="COMMAND")
    worktrees.set_defaults(handler="worktrees:list_worktrees", json=False, sizes=True)

    ls = commands.add_parser(
        "ls", help="path, run, branch, status, size, age and uncommitted work, oldest first"
    )
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.add_argument(
        "--no-size", dest="sizes", action="store_false", help="skip measuring each on disk"
    )
    ls.set_defaults(handler="worktrees:list_worktrees")

    prune = commands.add_parser(
        "prune", help="remove the worktrees of ended runs (the runs and branches stay)"
    )
    prune.add_argument(
        "--older-than",
        default="7d",
        metavar="AGE",
        help="only runs last updated longer ago than this: 7d, 12h, 90m (default: 7d)",
    )
    prune.add_argument(
        "--status",
        default=",".join(PRUNABLE_STATUSES),
        metavar="STATUS,...",
        help=f"only runs in these statuses (default: {','.join(PRUNABLE_STATUSES)})",
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would go, remove nothing")
    prune.add_argument(
        "--force", action="store_true", help="also remove worktrees with uncommitted work"
    )
    prune.set_defaults(handler="worktrees:prune_worktrees")

    rm = commands.add_parser(
        "rm", help="remove one run's worktree (the run, its history and branch stay)"
    )
    rm.add_argument("adw_id", metavar="ADW_ID", help="the run")
    rm.add_argument(
        "--force",
        action="store_true",
        help="discard uncommitted work (and with --delete-branch, unmerged commits)",
    )
    rm.add_argument("--delete-branch", action="store_true", help="delete the run's branch too")
    rm.set_defaults(handler="worktrees:remove_worktree")


def _add_stepping_in(add_parser: AddParser) -> None:
    attach = add_parser(
        "attach",
        help="resume the run's latest agent session interactively, in its worktree",
    )
    attach.add_argument("adw_id", metavar="ADW_ID", type=adw_id_arg, help="the run")
    attach.add_argument(
        "--resume",
        action="store_true",
        help="a running run is paused first; resume it here when you leave the session",
    )
    attach.set_defaults(handler="stepping_in:attach_run")

    shell = add_parser(
        "shell", help="open $SHELL in the run's worktree, with the run's ports in its env"
    )
    shell.add_argument("adw_id", metavar="ADW_ID", type=adw_id_arg, help="the run")
    shell.set_defaults(handler="stepping_in:open_shell")


def _add_triggers(add_parser: AddParser) -> None:
    webhook = add_parser(
        "webhook", help="start runs from GitHub's webhook deliveries (issues, issue comments)"
    )
    webhook.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1; put a tunnel in front, see the README)",
    )
    webhook.add_argument("--port", type=int, default=8001, help="port (default: 8001)")
    webhook.add_argument(
        "--insecure-no-signature",
        action="store_true",
        help="accept deliveries without checking X-Hub-Signature-256 (no ADW_WEBHOOK_SECRET)",
    )
    webhook.set_defaults(handler="triggers:serve_webhook")

    logs = add_parser("logs", help="a run's lines of the structured log (agents/adw.log)")
    logs.add_argument("adw_id", type=adw_id_arg, metavar="ADW_ID")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="then print new lines as they come (Ctrl-C)"
    )
    logs.set_defaults(handler="logs:show_logs")

    experiments = add_parser(
        "experiments", help="A/B experiments: each variant's runs, success and P(best)"
    )
    experiments.add_argument(
        "verb", nargs="?", choices=("show",), help="`show NAME`: one experiment"
    )
    experiments.add_argument("name", nargs="?", metavar="NAME")
    experiments.add_argument("--json", action="store_true", help="print them as JSON")
    experiments.set_defaults(handler="experiments:show_experiments")

    kpis = add_parser(
        "kpis", help="success rates, cost and duration per workflow, model set and issue class"
    )
    kpis.add_argument(
        "--since",
        type=since_arg,
        metavar="WHEN",
        help="only runs created since WHEN: a date or time (2026-01-31; UTC) or an age (7d)",
    )
    kpis.add_argument("--workflow", metavar="W", help="only the runs of workflow W")
    kpis.add_argument("--json", action="store_true", help="print the KPIs as JSON")
    kpis.set_defaults(handler="kpis:show_kpis")

    budget = add_parser(
        "budget", help="the run and daily budgets in force and today's spend; raise or lower them"
    )
    for scope, what in (("run", "a run may spend"), ("daily", "all runs may spend in a UTC day")):
        budget.add_argument(
            f"--{scope}",
            type=budget_arg,
            metavar="USD",
            help=f"US dollars {what}, for every process on the database at once; `none` for "
            "no limit, `default` for the setting's",
        )
    budget.add_argument("--json", action="store_true", help="print the budgets as JSON")
    budget.set_defaults(handler="budget:budget")

    serve = add_parser(
        "serve", help="serve /metrics (Prometheus), /status and /health for the database"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=9464, help="port (default: 9464)")
    serve.set_defaults(handler="serve:serve_status")

    poll = add_parser("poll", help="start runs for new issues and keyword comments, polling")
    poll.add_argument(
        "--interval",
        type=positive_float_arg,
        default=20.0,
        help="seconds between polls (default: 20)",
    )
    poll.set_defaults(handler="triggers:poll_issues")


COMMAND_GROUPS: dict[tuple[str, ...], Callable[[AddParser], None]] = {
    ("tui",): _add_tui,
    ("web",): _add_web,
    ("demo",): _add_demo,
    ("run", "worker", "workers", "compare", "choose"): _add_run,
    ("runs", "show", "history", "diff", "rollback"): _add_runs,
    ("recover",): _add_recover,
    ("pause", "resume"): _add_pause,
    ("dlq",): _add_dlq,
    ("breakers",): _add_breakers,
    ("issue",): _add_issue,
    ("prompt",): _add_prompt,
    ("migrate",): _add_migrate,
    ("doctor",): _add_doctor,
    ("workflows",): _add_workflows,
    ("worktrees",): _add_worktrees,
    ("attach", "shell"): _add_stepping_in,
    ("webhook", "logs", "experiments", "kpis", "budget", "serve", "poll"): _add_triggers,
}
"""The commands, in the order `adw --help` lists them: each function adds the commands
named with it (tests/cli/test_start.py checks that it adds those and no others)."""
