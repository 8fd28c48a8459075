"""The webhook server (`adw webhook`, the original ADW's trigger_webhook.py): GitHub posts
`issues` and `issue_comment` deliveries to `/gh-webhook`; a signed, new delivery that asks
for a workflow is answered 202 at once and its run launched in the background (the
runtime's resource manager queues it).

Every byte of a request is untrusted: the body's size is checked before it is read (and
reading is capped), the signature before the JSON is parsed, and text from the payload is
made safe before it reaches a log. aiohttp does the HTTP/1.1 parsing.
"""

import asyncio
import logging
import re
from dataclasses import dataclass

from aiohttp import web

from adw_tui.domain.sanitize import terminal_safe
from adw_tui.observability.server import ResourcesNow, StatusReport, listen, status_app
from adw_tui.store import Store
from adw_tui.store.deliveries import Delivery, DeliveryOutcome
from adw_tui.triggers.dispatch import Dispatcher
from adw_tui.triggers.github_events import PayloadError, read_event
from adw_tui.triggers.signature import signature_matches

logger = logging.getLogger(__name__)

PATH = "/gh-webhook"
MAX_BODY_BYTES = 25 * 1024 * 1024
"""GitHub caps a delivery's payload at 25 MB."""
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
SHUTDOWN_S = 5.0
"""Longest wait, on stop, for launches under way."""


@dataclass(frozen=True)
class WebhookConfig:
    secret: bytes | None
    """None: deliveries are not checked (`--insecure-no-signature`)."""
    workflows: frozenset[str]
    default_workflow: str | None = None
    repository: str | None = None
    """`owner/name`: deliveries for another repository start nothing."""
    trusted: tuple[str, ...] = ("OWNER", "MEMBER", "COLLABORATOR")
    """Whose text may start runs, by GitHub's `author_association`."""


class WebhookServer:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        config: WebhookConfig,
        *,
        status: StatusReport,
        resources: ResourcesNow | None = None,
    ) -> None:
        """`status` answers `/status`; `resources` gives `/metrics` this process's queue
        and slots."""
        self._store = store
        self._dispatcher = dispatcher
        self._config = config
        self._status = status
        self._resources = resources
        self.counters = dispatcher.counters
        self._launches: set[asyncio.Task[Delivery]] = set()
        self._runner: web.AppRunner | None = None
        self.stopped = asyncio.Event()

    def app(self) -> web.Application:
        """The deliveries' route beside the status API's (`/health`, `/status`,
        `/metrics`)."""
        app = status_app(self._store, self._status, self._resources, client_max_size=MAX_BODY_BYTES)
        app.router.add_post(PATH, self._delivery)
        return app

    async def start(self, host: str, port: int) -> str:
        """Listen on `host:port` (0: a free port); the address listened on."""
        self._runner, address = await listen(self.app(), host, port)
        self.counters.listening_on = address
        return address

    async def stop(self) -> None:
        """Close the listener, then wait (a while) for the launches under way."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        await self.launches_done(SHUTDOWN_S)
        self.counters.listening_on = None
        self.stopped.set()

    async def launches_done(self, timeout_s: float) -> None:
        """Wait (up to `timeout_s`) for the launches under way to be settled."""
        if self._launches:
            await asyncio.wait(set(self._launches), timeout=timeout_s)

    async def _delivery(self, request: web.Request) -> web.Response:
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return await self._reject(request, 413, f"the body is over {MAX_BODY_BYTES} bytes")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return await self._reject(request, 413, f"the body is over {MAX_BODY_BYTES} bytes")
        secret = self._config.secret
        signature = request.headers.get("X-Hub-Signature-256")
        if secret is not None and not signature_matches(secret, body, signature):
            why = "no X-Hub-Signature-256" if signature is None else "a wrong X-Hub-Signature-256"
            return await self._reject(request, 401, f"{why}: check the webhook's secret")
        event = request.headers.get("X-GitHub-Event")
        delivery_id = request.headers.get("X-GitHub-Delivery", "")
        if not event or not _DELIVERY_ID.fullmatch(event):
            return await self._reject(request, 400, "no valid X-GitHub-Event header")
        if not _DELIVERY_ID.fullmatch(delivery_id):
            return await self._reject(request, 400, "no valid X-GitHub-Delivery header")
        config = self._config
        try:
            read = read_event(
                event,
                body,
                workflows=config.workflows,
                default_workflow=config.default_workflow,
                repository=config.repository,
                trusted=config.trusted,
            )
        except PayloadError as error:
            return await self._reject(request, 400, str(error))
        self.counters.saw(read.kind)
        choice = read.choice
        delivery = Delivery(
            delivery_id=delivery_id,
            source="webhook",
            event=event,
            action=read.action,
            issue=read.issue,
            workflow=choice.workflow,
            outcome=DeliveryOutcome.PENDING if choice.workflow else DeliveryOutcome.IGNORED,
            reason=choice.ignored,
        )
        actor = f"github:{read.sender}" if read.sender else "github"
        detail = {"sender": read.sender}
        if not await self._dispatcher.take(delivery, actor=actor, detail=detail):
            return web.json_response({"duplicate": True, "delivery": delivery_id})
        if choice.workflow is None:
            logger.info("%s: %s ignored: %s", delivery_id, read.kind, choice.ignored)
            return web.json_response({"ignored": choice.ignored, "delivery": delivery_id})
        launch = asyncio.create_task(self._dispatcher.launch(delivery, actor=actor, detail=detail))
        self._launches.add(launch)
        launch.add_done_callback(self._launches.discard)
        body_out = {"accepted": True, "delivery": delivery_id, "issue": read.issue}
        return web.json_response({**body_out, "workflow": choice.workflow}, status=202)

    async def _reject(self, request: web.Request, status: int, reason: str) -> web.Response:
        """Answer `status` with the reason, counted, logged and audited (with the
        headers' delivery id and event, made safe: the sender is not known)."""
        self.counters.rejected += 1
        delivery = _shown(request.headers.get("X-GitHub-Delivery"))
        event = _shown(request.headers.get("X-GitHub-Event"))
        logger.warning(
            "rejected %s (%s, delivery %s): %d %s", PATH, event, delivery, status, reason
        )
        await self._store.audit.record(
            actor=f"webhook:{request.remote or 'unknown'}",
            action="trigger.rejected",
            detail={"status": status, "reason": reason, "delivery": delivery, "event": event},
        )
        return web.json_response({"error": reason}, status=status)


def _shown(text: str | None) -> str | None:
    return None if text is None else terminal_safe(text[:128])
