"""`adw issue new|ls|show`: the configured tracker's issues (local: kept in the state
database; GitHub: the repository's)."""

import argparse
import sys
from typing import TYPE_CHECKING

from adw_tui.cli import output
from adw_tui.cli.context import CliContext
from adw_tui.cli.listing import Column, Styled
from adw_tui.cli.output import key_value_grid, print_json, short_time
from adw_tui.cli.paging import View, print_listing
from adw_tui.domain.errors import AdwError
from adw_tui.domain.issues import IssueComment, IssueState, IssueSummary
from adw_tui.domain.sanitize import safe_markup

if TYPE_CHECKING:
    from rich.panel import Panel

STATE_STYLES = {IssueState.OPEN: "green", IssueState.CLOSED: "dim"}


async def new_issue(args: argparse.Namespace, context: CliContext) -> int:
    # Read the body first: a bad --body-file must not leave a new database behind.
    body = args.body if args.body_file is None else _read_body(args.body_file)
    async with context.open_tracker("create") as tracker:
        assert tracker is not None
        issue = await tracker.create_issue(args.title, body)
    if args.json:
        print_json(issue)
    else:
        output.console.print(f"issue {issue.number} created")
    return 0


def _read_body(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        with open(name, encoding="utf-8") as file:
            return file.read()
    except FileNotFoundError:
        raise AdwError(f"--body-file {name}: no such file") from None
    except UnicodeDecodeError:
        raise AdwError(f"--body-file {name}: not UTF-8 text") from None
    except OSError as error:
        raise AdwError(f"--body-file {name}: cannot read it ({error.strerror})") from None


ISSUES = View[IssueSummary](
    noun="issue",
    columns=(
        Column("number", 6, right=True, clip=False),
        Column("state", 6),
        Column("comments", 8, right=True),
        Column("created", 19),
        Column("title"),
    ),
    cells=lambda issue: (
        str(issue.number),
        Styled(issue.state, STATE_STYLES[issue.state]),
        str(issue.comments),
        short_time(issue.created_at),
        issue.title,
    ),
    as_json=lambda issue: issue,
)


async def list_issues(args: argparse.Namespace, context: CliContext) -> int:
    state = None if args.state == "all" else IssueState(args.state)
    async with context.open_tracker("if_any") as tracker:
        where = context.db_path if tracker is None else tracker.where
        await print_listing(
            args,
            ISSUES,
            tracker,
            lambda tracker, limit: tracker.issues(state=state, since=args.since, limit=limit),
            lambda tracker: tracker.count_issues(state=state, since=args.since),
            empty="No issues match."
            if state is not IssueState.OPEN or args.since
            else f"No open issues in {where}: `adw issue new --title T` opens one.",
        )
    return 0


async def show_issue(args: argparse.Namespace, context: CliContext) -> int:
    async with context.open_tracker("existing") as tracker:
        assert tracker is not None
        issue = await tracker.get_issue(args.number)
    if args.json:
        print_json(issue)
        return 0
    rows = [
        ("issue", str(issue.number)),
        ("title", safe_markup(issue.title)),
        ("state", _state(issue.state)),
        ("created", short_time(issue.created_at)),
        ("comments", str(len(issue.comments))),
    ]
    console = output.console
    console.print(key_value_grid(rows))
    console.print()
    console.print(safe_markup(issue.body) if issue.body.strip() else "[dim](no description)[/]")
    for comment in issue.comments:
        console.print(_comment_panel(comment))
    return 0


def _state(state: IssueState) -> str:
    return f"[{STATE_STYLES[state]}]{state}[/]"


def _comment_panel(comment: IssueComment) -> "Panel":
    """A comment in a box; the agents' status comments are cyan and marked as such."""
    from rich.panel import Panel

    author = f"{comment.author} (agent status)" if comment.from_bot else comment.author
    return Panel(
        safe_markup(comment.body),
        title=safe_markup(f"{author} · {short_time(comment.created_at)}"),
        title_align="left",
        border_style="cyan" if comment.from_bot else "dim",
    )
