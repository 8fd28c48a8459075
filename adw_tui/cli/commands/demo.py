"""`adw demo`: a sample repository, five issues, all run at once by the simulated agent."""

import argparse
import tempfile
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from adw_tui.cli.commands.runs import STATUS_STYLES
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, error_console
from adw_tui.cli.progress import live_orchestrator
from adw_tui.config import load_settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.sample_repo import DEMO_ISSUES, FAILING_ENGINE_ENV, create_sample_repo
from adw_tui.store import Store


async def run_demo(args: argparse.Namespace, context: CliContext) -> int:
    directory = (args.dir or Path(tempfile.mkdtemp(prefix="adw-demo-"))).expanduser().resolve()
    repo = await create_sample_repo(directory)
    if not args.headless:
        error_console.print(
            "[yellow]The dashboard is not part of this release yet; showing the demo headless.[/]"
        )
    error_console.print(f"sample repository: [bold]{escape(str(repo))}[/]")
    settings = load_settings(repo).model_copy(update={"engine": "sim", "retry_initial": 0.2})
    async with await Store.open(repo / "agents" / "adw_state.db") as store:
        issues = [await store.issues.create(issue.title, issue.body) for issue in DEMO_ISSUES]
        async with live_orchestrator(store, repo, settings) as orchestrator:
            launched = [
                await orchestrator.launch(
                    issue.number,
                    workflow="sdlc",
                    engine="sim",
                    engine_env=FAILING_ENGINE_ENV if demo.fails else None,
                )
                for issue, demo in zip(issues, DEMO_ISSUES, strict=True)
            ]
            runs = [await orchestrator.wait(adw_id) for adw_id in launched]
        table = Table("issue", "adw_id", "status", "cost", "branch", title="adw demo")
        for issue, run in zip(issues, runs, strict=True):
            state = (await store.load(run.adw_id)).state
            table.add_row(
                f"#{issue.number} {escape(issue.title)}",
                run.adw_id,
                f"[{STATUS_STYLES[run.status]}]{run.status}[/]",
                f"${run.cost_usd:.4f}",
                escape(state.branch_name or ""),
            )
        console.print(table)
    console.print(
        f"Look around: [bold]uv run adw --repo {escape(str(repo))} runs[/], "
        f"[bold]show ADW_ID[/], [bold]history ADW_ID[/], [bold]dlq ls[/]"
    )
    expected = [
        RunStatus.DEAD_LETTERED if demo.fails else RunStatus.SUCCEEDED for demo in DEMO_ISSUES
    ]
    return 0 if [run.status for run in runs] == expected else 1
