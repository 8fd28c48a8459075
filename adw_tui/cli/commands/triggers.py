"""`adw webhook` and `adw poll`: the triggers, each with a live orchestrator that runs
what they start, until SIGINT or SIGTERM (which closes the trigger first, then lets the
running steps finish for up to the shutdown grace)."""

import argparse

from rich.markup import escape

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import error_console
from adw_tui.cli.progress import live_orchestrator, recover_and_report
from adw_tui.config import Settings
from adw_tui.domain.errors import AdwError
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.trackers.github import GitHubTracker
from adw_tui.triggers.counters import TriggerCounters
from adw_tui.triggers.dispatch import Dispatcher, launcher_of
from adw_tui.triggers.poller import Poller
from adw_tui.triggers.presence import Announcement
from adw_tui.triggers.status import runtime_status
from adw_tui.triggers.webhook import PATH, WebhookConfig, WebhookServer
from adw_tui.triggers.workflow_names import trigger_workflows


async def serve_webhook(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    secret = settings.webhook_secret
    if secret is None and not args.insecure_no_signature:
        raise AdwError(
            "adw webhook needs the webhook's secret: set ADW_WEBHOOK_SECRET to the secret "
            "given in the repository's Settings > Webhooks (or pass --insecure-no-signature "
            "to accept unsigned deliveries, never on an address others can reach)"
        )
    if settings.tracker != "github":
        raise AdwError(
            "adw webhook takes GitHub's deliveries: set ADW_TRACKER=github (or pass "
            "--tracker github before the command)"
        )
    workflows = trigger_workflows(context.repo, settings.webhook_default_workflow)
    context.start_logging("daemon")
    server: WebhookServer | None = None

    async def close_listener() -> None:
        if server is not None:
            await server.stop()

    async with (
        await context.open_store() as store,
        live_orchestrator(
            store, context.repo, settings, before_close=close_listener
        ) as orchestrator,
    ):
        await recover_and_report(orchestrator, settings)
        tracker = orchestrator.tracker
        repository = await tracker.repository() if isinstance(tracker, GitHubTracker) else None
        counters = TriggerCounters("webhook")
        server = WebhookServer(
            store,
            _dispatcher(orchestrator, counters),
            WebhookConfig(
                secret=secret.get_secret_value().encode() if secret else None,
                workflows=workflows,
                default_workflow=settings.webhook_default_workflow,
                repository=repository,
                trusted=tuple(settings.trigger_associations),
            ),
            status=lambda: runtime_status(orchestrator, counters),
            resources=orchestrator.resources.snapshot,
        )
        try:
            address = await server.start(args.host, args.port)
        except OSError as error:
            raise AdwError(
                f"cannot listen on {args.host}:{args.port}: {error.strerror or error}; "
                "choose another --port"
            ) from error
        if secret is None:
            error_console.print(
                "[bold red]WARNING: --insecure-no-signature: deliveries are NOT checked; "
                "anyone who can reach this address can start runs[/]"
            )
        _announce(
            f"adw webhook: http://{address}{PATH} takes GitHub's issues and issue_comment "
            f"deliveries for {repository}; /health, /status and /metrics beside it",
            settings,
            workflows,
        )
        async with Announcement(orchestrator, f"webhook http://{address}{PATH}"):
            await server.stopped.wait()
    return 0


async def poll_issues(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    workflows = trigger_workflows(context.repo, settings.webhook_default_workflow)
    context.start_logging("daemon")
    poller: Poller | None = None

    async def stop_polling() -> None:
        if poller is not None:
            poller.stop()

    async with (
        await context.open_store() as store,
        live_orchestrator(store, context.repo, settings, before_close=stop_polling) as orchestrator,
    ):
        await recover_and_report(orchestrator, settings)
        counters = TriggerCounters("poll")
        poller = Poller(
            store,
            orchestrator.tracker,
            _dispatcher(orchestrator, counters),
            workflows=workflows,
            default_workflow=settings.webhook_default_workflow,
            interval_s=args.interval,
            trusted=settings.trigger_associations,
        )
        _announce(
            f"adw poll: the open issues of {orchestrator.tracker.where}, every {args.interval:g}s",
            settings,
            workflows,
        )
        where = f"poll {orchestrator.tracker.where} every {args.interval:g}s"
        async with Announcement(orchestrator, where):
            await poller.run()
    return 0


def _dispatcher(orchestrator: Orchestrator, counters: TriggerCounters) -> Dispatcher:
    return Dispatcher(orchestrator.store, launcher_of(orchestrator), counters)


def _announce(first_line: str, settings: Settings, workflows: frozenset[str]) -> None:
    default = settings.webhook_default_workflow
    error_console.print(
        f"{escape(first_line)}\n"
        f"  keywords: adw_<workflow> ({', '.join(sorted(workflows))}); an opened issue "
        f"without one runs: {default or 'nothing (ADW_WEBHOOK_DEFAULT_WORKFLOW unset)'}\n"
        "  ctrl+c stops",
        soft_wrap=True,
        highlight=False,
    )
