"""`adw webhook`'s server, in-process on a free loopback port, with GitHub's own example
deliveries signed as GitHub signs them, launching real runs (the simulated agent, the
`plan` workflow) on the loopback GitHub's issues."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from adw_tui.domain.issues import bot_comment
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.store.deliveries import Delivery, DeliveryOutcome
from adw_tui.triggers.counters import TriggerCounters
from adw_tui.triggers.dispatch import Dispatcher, launcher_of
from adw_tui.triggers.signature import sign
from adw_tui.triggers.status import runtime_status
from adw_tui.triggers.webhook import MAX_BODY_BYTES, WebhookConfig, WebhookServer
from adw_tui.triggers.workflow_names import trigger_workflows
from tests.fake_github import FakeGitHub
from tests.runtime import sh
from tests.triggers.conftest import comment_payload, github_orchestrator, opened_payload

SECRET = b"webhook-secret-for-tests"


@dataclass
class Webhook:
    server: WebhookServer
    url: str
    client: httpx.AsyncClient
    store: Store
    orchestrator: Orchestrator

    async def post(
        self,
        event: str,
        payload: Any,
        *,
        delivery: str | None = None,
        signature: str | None = "sign",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4())}
        sent["Content-Type"] = "application/json"
        if signature == "sign":
            sent["X-Hub-Signature-256"] = sign(SECRET, body)
        elif signature is not None:
            sent["X-Hub-Signature-256"] = signature
        return await self.client.post(
            f"{self.url}/gh-webhook", content=body, headers={**sent, **(headers or {})}
        )

    async def settled(self, delivery: str) -> Delivery:
        """The delivery once its launch answered."""
        await self.server.launches_done(10)
        found = await self.store.deliveries.get(delivery)
        assert found is not None
        return found


async def start_webhook(
    orchestrator: Orchestrator,
    *,
    default_workflow: str | None = None,
    secret: bytes | None = SECRET,
) -> WebhookServer:
    counters = TriggerCounters("webhook")

    server = WebhookServer(
        orchestrator.store,
        Dispatcher(orchestrator.store, launcher_of(orchestrator), counters),
        WebhookConfig(
            secret=secret,
            workflows=trigger_workflows(orchestrator.repo, default_workflow),
            default_workflow=default_workflow,
            repository="octo/hello",
        ),
        status=lambda: runtime_status(orchestrator, counters),
        resources=orchestrator.resources.snapshot,
    )
    await server.start("127.0.0.1", 0)
    return server


@pytest.fixture
async def webhook(orchestrator: Orchestrator, store: Store) -> AsyncIterator[Webhook]:
    server = await start_webhook(orchestrator)
    async with httpx.AsyncClient(timeout=10) as client:
        yield Webhook(server, f"http://{server.counters.listening_on}", client, store, orchestrator)
    await server.stop()


async def runs_of(store: Store) -> list[str]:
    rows = await store.audit.entries(limit=1000)
    return [entry.adw_id for entry in rows if entry.action == "run.create" and entry.adw_id]


async def test_an_opened_issue_with_a_keyword_starts_its_run(
    webhook: Webhook, github: FakeGitHub, store: Store, origin: Path
) -> None:
    """End to end: GitHub's delivery of a new issue ends with the run's branch on the
    bare origin, the pull request opened with `Closes #N`, the `[ADW-AGENTS]` reports in
    order, the label moved; a redelivery of the same id starts nothing."""
    number = github.add_issue("Add a slugify helper", "Slugs, please: adw_plan_iso")
    delivery = str(uuid.uuid4())
    answer = await webhook.post(
        "issues", opened_payload(github, number, "adw_plan_iso"), delivery=delivery
    )
    assert answer.status_code == 202
    assert answer.json() == {
        "accepted": True,
        "delivery": delivery,
        "issue": number,
        "workflow": "plan",
    }
    settled = await webhook.settled(delivery)
    assert settled.outcome is DeliveryOutcome.STARTED
    assert settled.adw_id is not None
    run = await webhook.orchestrator.wait(settled.adw_id)
    assert run.status is RunStatus.SUCCEEDED
    assert run.workflow == "plan"
    assert run.issue == str(number)
    audit = {entry.action: entry for entry in await store.audit.entries(limit=1000)}
    started = audit["trigger.started"]
    assert started.actor == "github:Codertocat"  # the example's sender
    assert started.adw_id == settled.adw_id
    assert started.detail["delivery"] == delivery
    assert started.detail["event"] == "issues"
    assert started.detail["action"] == "opened"
    assert started.detail["issue"] == number
    assert webhook.server.counters.started == 1
    # What GitHub and origin hold once the run is done.
    state = (await store.load(settled.adw_id)).state.as_data()
    [pull] = github.pulls.values()
    assert pull["head"]["ref"] == state["branch_name"]
    assert f"Closes #{number}" in pull["body"]
    assert state["pr_number"] == pull["number"]
    worktree = Path(state["worktree_path"])
    assert sh(origin, "rev-parse", state["branch_name"]) == sh(worktree, "rev-parse", "HEAD")
    reports = [comment["body"] for comment in github.comments[number]]
    assert reports[0] == f"[ADW-AGENTS] {settled.adw_id}_ops: running workflow plan from classify"
    steps = [body.split(": ", 1)[1] for body in reports[1:-1]]
    assert steps == [
        *("classify: succeeded", "name_branch: succeeded", "worktree: succeeded"),
        *("plan: succeeded", "commit_plan: succeeded", "pull_request: succeeded"),
        *("push: succeeded", "open_pr: succeeded"),
    ]
    assert reports[-1] == f"[ADW-AGENTS] {settled.adw_id}_ops: workflow plan ended: succeeded"
    assert github.labels(number) == ["adw:succeeded"]
    # GitHub redelivers the same delivery: acknowledged, nothing started.
    again = await webhook.post(
        "issues", opened_payload(github, number, "adw_plan_iso"), delivery=delivery
    )
    assert (again.status_code, again.json()) == (200, {"duplicate": True, "delivery": delivery})
    await webhook.server.launches_done(10)
    assert await runs_of(store) == [settled.adw_id]
    assert len(github.pulls) == 1


async def test_a_redelivery_starts_nothing_even_after_a_restart(
    webhook: Webhook, github: FakeGitHub, store: Store, orchestrator: Orchestrator
) -> None:
    number = github.add_issue("Add a slugify helper", "adw_plan")
    payload = opened_payload(github, number, "adw_plan")
    delivery = str(uuid.uuid4())
    assert (await webhook.post("issues", payload, delivery=delivery)).status_code == 202
    again = await webhook.post("issues", payload, delivery=delivery)
    assert again.status_code == 200
    assert again.json() == {"duplicate": True, "delivery": delivery}
    await webhook.settled(delivery)
    await webhook.server.stop()

    restarted = await start_webhook(orchestrator)
    try:
        url = f"http://{restarted.counters.listening_on}"
        body = json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(SECRET, body),
        }
        answer = await webhook.client.post(f"{url}/gh-webhook", content=body, headers=headers)
        assert answer.json() == {"duplicate": True, "delivery": delivery}
        assert restarted.counters.duplicates == 1
    finally:
        await restarted.stop()
    assert len(await runs_of(store)) == 1


async def test_a_persons_keyword_comment_starts_a_run_and_bots_do_not(
    webhook: Webhook, github: FakeGitHub, store: Store
) -> None:
    number = github.add_issue("Add a slugify helper", "no keyword here")
    answer = await webhook.post("issue_comment", comment_payload(github, number, "adw_plan"))
    assert answer.status_code == 202
    assert answer.json()["workflow"] == "plan"

    own = comment_payload(github, number, bot_comment("abcd1234", "ops", "adw_plan done"))
    answer = await webhook.post("issue_comment", own)
    assert answer.status_code == 200
    assert "[ADW-AGENTS]" in answer.json()["ignored"]

    bots = comment_payload(github, number, "adw_plan", user_type="Bot")
    assert "bot" in (await webhook.post("issue_comment", bots)).json()["ignored"]
    await webhook.server.launches_done(10)
    assert len(await runs_of(store)) == 1
    assert webhook.server.counters.ignored == 2


async def test_only_the_repositorys_trusted_people_start_runs(
    webhook: Webhook, github: FakeGitHub, store: Store
) -> None:
    """On a public repository anyone can open an issue or comment; a run executes an
    agent on that text, so only owners, members and collaborators (by default) start one."""
    number = github.add_issue("Add a slugify helper", "no keyword here")
    stranger = opened_payload(github, number, "adw_plan")
    stranger["issue"]["author_association"] = "NONE"
    answer = await webhook.post("issues", stranger)
    assert answer.status_code == 200
    assert answer.json()["ignored"] == (
        "Codertocat is NONE of the repository, not one of OWNER, MEMBER, COLLABORATOR "
        "(ADW_TRIGGER_ASSOCIATIONS)"
    )
    contributor = comment_payload(github, number, "adw_plan")
    contributor["comment"]["author_association"] = "CONTRIBUTOR"
    ignored = (await webhook.post("issue_comment", contributor)).json()["ignored"]
    assert "is CONTRIBUTOR of the repository" in ignored
    member = comment_payload(github, number, "adw_plan")
    member["comment"]["author_association"] = "MEMBER"
    assert (await webhook.post("issue_comment", member)).status_code == 202
    await webhook.server.launches_done(10)
    assert len(await runs_of(store)) == 1


async def test_an_issue_with_no_keyword_is_ignored_without_a_default(
    webhook: Webhook, github: FakeGitHub, store: Store
) -> None:
    number = github.add_issue("Add a slugify helper", "Just words.")
    answer = await webhook.post("issues", opened_payload(github, number, "Just words. adw_nope"))
    assert answer.status_code == 200
    assert "unknown: adw_nope" in answer.json()["ignored"]
    nothing = await webhook.post("issue_comment", comment_payload(github, number, "thanks!"))
    assert "no workflow" in nothing.json()["ignored"]
    closed = opened_payload(github, number, "adw_plan")
    closed["action"] = "closed"
    assert (await webhook.post("issues", closed)).json() == {
        "ignored": "issues closed starts no run",
        "delivery": (await _last(store)).delivery_id,
    }
    assert (await webhook.post("ping", {"zen": "Keep it simple."})).status_code == 200
    elsewhere = opened_payload(github, number, "adw_plan")
    elsewhere["repository"]["full_name"] = "someone/else"
    assert "not octo/hello" in (await webhook.post("issues", elsewhere)).json()["ignored"]
    assert await runs_of(store) == []
    ignored = [e for e in await store.audit.entries(limit=100) if e.action == "trigger.ignored"]
    assert len(ignored) == 5


async def _last(store: Store) -> Delivery:
    return (await store.deliveries.list(limit=1))[0]


async def test_the_default_workflow_runs_an_issue_without_a_keyword(
    orchestrator: Orchestrator, github: FakeGitHub, store: Store
) -> None:
    server = await start_webhook(orchestrator, default_workflow="plan")
    try:
        number = github.add_issue("Add a slugify helper", "Just words.")
        body = json.dumps(opened_payload(github, number, "Just words.")).encode()
        headers = {
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": "d-1",
            "X-Hub-Signature-256": sign(SECRET, body),
        }
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"http://{server.counters.listening_on}/gh-webhook", content=body, headers=headers
            )
        assert answer.status_code == 202
        assert answer.json()["workflow"] == "plan"
    finally:
        await server.stop()


async def test_a_refused_launch_is_recorded_and_the_server_goes_on(
    webhook: Webhook, github: FakeGitHub, store: Store
) -> None:
    delivery = str(uuid.uuid4())
    answer = await webhook.post(
        "issues", opened_payload(github, 404, "adw_plan"), delivery=delivery
    )
    assert answer.status_code == 202
    settled = await webhook.settled(delivery)
    assert settled.outcome is DeliveryOutcome.REFUSED
    assert settled.reason is not None
    assert "issue 404 not found" in settled.reason
    refused = [e for e in await store.audit.entries(limit=100) if e.action == "trigger.refused"]
    assert refused[0].detail["reason"] == settled.reason
    assert (await webhook.client.get(f"{webhook.url}/health")).status_code == 200


async def test_bad_requests_are_refused_with_the_reason(
    webhook: Webhook, github: FakeGitHub, store: Store
) -> None:
    payload = opened_payload(github, 1, "adw_plan")
    missing = await webhook.post("issues", payload, signature=None)
    assert missing.status_code == 401
    assert "no X-Hub-Signature-256" in missing.json()["error"]
    wrong = await webhook.post("issues", payload, signature=sign(b"not it", b"{}"))
    assert wrong.status_code == 401

    malformed = await webhook.post("issues", b'{"action": "opened", ')
    assert malformed.status_code == 400
    assert "not JSON" in malformed.json()["error"]
    assert (await webhook.post("issues", b"[1, 2]")).status_code == 400
    no_number = opened_payload(github, 1, "adw_plan")
    del no_number["issue"]["number"]
    answer = await webhook.post("issues", no_number)
    assert answer.status_code == 400
    assert answer.json() == {"error": "the payload has no issue.number"}
    no_action = await webhook.post("issues", {"issue": {}})
    assert no_action.json() == {"error": "the payload has no action (a string)"}
    no_id = await webhook.post("issues", payload, headers={"X-GitHub-Delivery": "a b"})
    assert no_id.status_code == 400

    rejected = [e for e in await store.audit.entries(limit=100) if e.action == "trigger.rejected"]
    assert len(rejected) == 7
    assert {e.detail["status"] for e in rejected} == {400, 401}
    assert webhook.server.counters.rejected == 7
    assert await store.deliveries.list() == []  # only signed, readable deliveries are kept


async def test_a_body_over_the_limit_is_refused_before_it_is_read(webhook: Webhook) -> None:
    host, port = webhook.server.counters.listening_on.rsplit(":", 1)  # type: ignore[union-attr]
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /gh-webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\n"
        b"X-GitHub-Delivery: big\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
        + b'{"action": '
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)  # no 25 MB sent
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413")


async def test_an_oversized_chunked_body_is_cut_off(webhook: Webhook) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(26):
            yield b" " * (1024 * 1024)

    answer = await webhook.client.post(
        f"{webhook.url}/gh-webhook",
        content=chunks(),
        headers={"X-GitHub-Event": "issues", "X-GitHub-Delivery": "chunked"},
    )
    assert answer.status_code == 413


async def test_a_hostile_issue_body_is_read_safely(
    webhook: Webhook, github: FakeGitHub, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    number = github.add_issue("Hostile", "x")
    body = "\x00\x1b]52;c;aGk=\x07" + "y" * (1024 * 1024) + " adw_nope"
    answer = await webhook.post("issues", opened_payload(github, number, body))
    assert answer.status_code == 200
    assert "\x1b" not in caplog.text
    assert "\x00" not in json.dumps([e.detail for e in await store.audit.entries()])


async def test_health_status_and_unknown_routes(webhook: Webhook, github: FakeGitHub) -> None:
    client, url = webhook.client, webhook.url
    assert (await client.get(f"{url}/health")).json() == {"ok": True}
    await webhook.post("ping", {"zen": "Design for failure."})
    status = (await client.get(f"{url}/status")).json()
    assert status["runs"] == {"running": [], "queued": []}
    assert status["slots"]["total"] >= 1
    assert isinstance(status["memory_percent"], float)
    assert status["breakers"] == []
    assert status["github_rate_limit"] is None  # no call made to GitHub yet
    [trigger] = status["triggers"]
    assert trigger["listening_on"] == url.removeprefix("http://")
    assert trigger["last_event_kind"] == "ping"
    assert trigger["ignored"] == 1
    metrics = await client.get(f"{url}/metrics")
    assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    # The runtime's own slots and queue, beside what the database recorded.
    assert f"adw_slots {float(status['slots']['total'])}" in metrics.text
    assert 'adw_queue_depth{reason="slot"} 0.0' in metrics.text
    missing = await client.get(f"{url}/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found"}
    wrong = await client.get(f"{url}/gh-webhook")
    assert wrong.status_code == 405
    assert (await client.post(f"{url}/health")).status_code == 405


async def test_an_unsigned_server_takes_unsigned_deliveries(
    github: FakeGitHub, store: Store, repo: Path
) -> None:
    async with github_orchestrator(github, store, repo) as orchestrator:
        server = await start_webhook(orchestrator, secret=None)
        try:
            async with httpx.AsyncClient() as client:
                answer = await client.post(
                    f"http://{server.counters.listening_on}/gh-webhook",
                    json={"zen": "x"},
                    headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "p-1"},
                )
            assert answer.status_code == 200
        finally:
            await server.stop()
