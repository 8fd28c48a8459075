"""`adw issue new|ls|show`: the local tracker's issues, kept in the state database."""

import argparse
import sys
from typing import Any

from rich.panel import Panel
from rich.table import Table

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, key_value_grid, print_json, short_time
from adw_tui.domain.errors import AdwError, DatabaseMissingError
from adw_tui.domain.issues import Issue, IssueComment, IssueState
from adw_tui.domain.sanitize import safe_markup

STATE_STYLES = {IssueState.OPEN: "green", IssueState.CLOSED: "dim"}


def issue_row(issue: Issue) -> dict[str, Any]:
    """The stable JSON shape of an issue in `adw issue ls --json`: no body, a comment count."""
    return {
        **issue.model_dump(mode="json", exclude={"body", "comments"}),
        "comments": len(issue.comments),
    }


async def new_issue(args: argparse.Namespace, context: CliContext) -> int:
    # Read the body first: a bad --body-file must not leave a new database behind.
    body = args.body if args.body_file is None else _read_body(args.body_file)
    async with await context.open_store() as store:
        issue = await store.issues.create(args.title, body, actor="cli")
    if args.json:
        print_json(issue)
    else:
        console.print(f"issue {issue.number} created")
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


async def list_issues(args: argparse.Namespace, context: CliContext) -> int:
    try:
        store = await context.open_store(create=False)
    except DatabaseMissingError:
        issues: list[Issue] = []
    else:
        async with store:
            issues = await store.issues.list()
    if args.json:
        print_json([issue_row(issue) for issue in issues])
        return 0
    if not issues:
        console.print(
            f"No issues yet in {safe_markup(str(context.db_path))}: "
            "`adw issue new --title T` opens one.",
            soft_wrap=True,
        )
        return 0
    table = Table("number", "state", "title", "comments", "created")
    for issue in issues:
        table.add_row(
            str(issue.number),
            _state(issue.state),
            safe_markup(issue.title),
            str(len(issue.comments)),
            short_time(issue.created_at),
        )
    console.print(table)
    return 0


async def show_issue(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        issue = await store.issues.get(args.number)
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
    console.print(key_value_grid(rows))
    console.print()
    console.print(safe_markup(issue.body) if issue.body.strip() else "[dim](no description)[/]")
    for comment in issue.comments:
        console.print(_comment_panel(comment))
    return 0


def _state(state: IssueState) -> str:
    return f"[{STATE_STYLES[state]}]{state}[/]"


def _comment_panel(comment: IssueComment) -> Panel:
    """A comment in a box; the agents' status comments are cyan and marked as such."""
    author = f"{comment.author} (agent status)" if comment.from_bot else comment.author
    return Panel(
        safe_markup(comment.body),
        title=safe_markup(f"{author} · {short_time(comment.created_at)}"),
        title_align="left",
        border_style="cyan" if comment.from_bot else "dim",
    )
