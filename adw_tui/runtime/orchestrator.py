"""The Orchestrator: the one facade the CLI and the TUI use to run workflows."""

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from adw_tui.agents.registry import engine_for
from adw_tui.agents.runner import RAW_OUTPUT_FILE
from adw_tui.config import Settings
from adw_tui.domain.clock import Clock, start_of_day, utc_now
from adw_tui.domain.control import RunControl
from adw_tui.domain.errors import (
    ActiveRunError,
    AdwError,
    DatabaseWriteError,
    RunClaimedError,
    ShuttingDownError,
)
from adw_tui.domain.fleet import FleetWants, host_name
from adw_tui.domain.ids import new_adw_id
from adw_tui.domain.model_sets import MODEL_SETS
from adw_tui.domain.models import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterStatus,
    NewDeadLetter,
    RunRecord,
    RunState,
    RunStatus,
)
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime import git
from adw_tui.runtime.attempt_transcripts import attempt_transcript
from adw_tui.runtime.budgets import budget_usd
from adw_tui.runtime.events import EventBus, QueueChanged, RunChanged, RuntimeEvent
from adw_tui.runtime.handover import Handover, plan_attach, plan_shell, record_return
from adw_tui.runtime.inspection import WorktreeDiff, run_worktree_diff
from adw_tui.runtime.issue_text import issue_state
from adw_tui.runtime.notify_command import CommandNotifier
from adw_tui.runtime.pausing import REQUEST_POLL_S, pause_elsewhere, refuse_pause, refuse_resume
from adw_tui.runtime.ports import PortAllocator
from adw_tui.runtime.resources import DailyBudget, ResourceManager, ResourceSnapshot
from adw_tui.runtime.retry import Sleep
from adw_tui.runtime.rollback import rollback_run
from adw_tui.runtime.run_log import RunLog, bind_run
from adw_tui.runtime.services import RUNTIME_ACTOR, RunServices
from adw_tui.runtime.store_failures import interrupt_unsaved
from adw_tui.runtime.tracing import annotate, span
from adw_tui.runtime.worktrees import WorktreeManager, worktree_manager
from adw_tui.store import Store
from adw_tui.store.fleet import queued_for_fleet
from adw_tui.store.group_commit import SyncWriter, Write
from adw_tui.store.leases import Holder
from adw_tui.trackers.base import IssueTracker, PullRequestHost
from adw_tui.trackers.configured import tracker_for
from adw_tui.workflows.loader import get_workflow

# What runs a step, pushes a branch or reads experiments is imported when first used: the
# dashboard and the commands make an orchestrator long before (if ever) running a run.
if TYPE_CHECKING:
    from adw_tui.runtime.branch_actions import Chosen, Pushed
    from adw_tui.runtime.executor import RunExecutor
    from adw_tui.runtime.experiments import Experiments

PAUSING_AFTER_ACTION = "pausing once its action ends"

logger = logging.getLogger(__name__)


class Orchestrator:
    """Launches runs as asyncio tasks under the resource manager and reports on them."""

    def __init__(
        self,
        store: Store,
        repo: Path,
        settings: Settings,
        *,
        tracker: IssueTracker | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = utc_now,
    ) -> None:
        """`tracker` defaults to the one the settings choose (and is then closed with the
        orchestrator); `sleep` is the clock retry backoff waits on, `clock` the one that
        says which day the daily budget counts; tests pass fake ones."""
        self._owns_tracker = tracker is None
        self.bus = EventBus(redactor=store.redactor)
        self.holder = Holder.this_process()
        self.resources = ResourceManager(
            store.leases,
            holder=self.holder,
            max_concurrent=settings.max_concurrent,
            memory_limit_percent=settings.memory_limit_percent,
            rate_limits=settings.rate_limits,
            daily_budget=DailyBudget(
                lambda: budget_usd(store, settings, "daily"),
                lambda: store.spent_since(start_of_day(clock())),
            ),
        )
        self.resources.on_change.append(self._publish_queue)
        self._notifier = (
            CommandNotifier(settings.notify_command) if settings.notify_command else None
        )
        if self._notifier is not None:
            self.bus.listeners.append(self._notifier)
        self.bus.listeners.append(RunLog(self._workflow_of))
        self._services = RunServices(
            store=store,
            repo=repo,
            settings=settings,
            tracker=tracker or tracker_for(settings, store, repo),
            worktrees=worktree_manager(repo, settings),
            ports=PortAllocator(
                store.leases,
                holder=self.holder,
                backend_start=settings.backend_port_start,
                frontend_start=settings.frontend_port_start,
                count=settings.port_count,
            ),
            resources=self.resources,
            bus=self.bus,
            engines=lambda name, env: engine_for(name, settings, env),
            sleep=sleep,
        )
        self._tasks: dict[str, asyncio.Task[RunStatus]] = {}
        self._executors: dict[str, RunExecutor] = {}  # of the runs in `_tasks`
        self.owner = f"{host_name()}:{os.getpid()}"
        self._closing: asyncio.Future[None] | None = None
        self._cancelled: set[str] = set()  # runs an operator cancelled
        self._pausing: dict[str, str] = {}  # runs being paused here, and by whom
        self._requests: asyncio.Task[None] | None = None  # see `_answer_pause_requests`
        self._base: str | None = None

    @cached_property
    def experiments(self) -> "Experiments":
        """The repository's experiments (`.adw/experiments.yaml`)."""
        from adw_tui.runtime.experiments import Experiments

        return Experiments(self.repo)

    @property
    def store(self) -> Store:
        return self._services.store

    @property
    def settings(self) -> Settings:
        return self._services.settings

    @property
    def tracker(self) -> IssueTracker:
        """Where issues come from (the configured tracker unless given another)."""
        return self._services.tracker

    @property
    def worktrees(self) -> WorktreeManager:
        """The manager of the repository's run worktrees (where `ADW_TREES_DIR` says)."""
        return self._services.worktrees

    @property
    def repo(self) -> Path:
        return self._services.repo

    async def launch(
        self,
        issue_number: int,
        *,
        workflow: str = "sdlc",
        engine: str | None = None,
        model_set: str = "base",
        adw_id: str | None = None,
        engine_env: Mapping[str, str] | None = None,
        force: bool = False,
        with_run: Write[None] | None = None,
        state: Mapping[str, Any] | None = None,
        variant_in_turn: int | None = None,
        experiment: bool = True,
        fleet_labels: Sequence[str] | None = None,
    ) -> str:
        """Queue a run of `workflow` for the issue and return its adw_id at once; `state`
        joins a new run's first state (a best-of-N group). A new run of an experiment's
        workflow takes a variant drawn by the experiment, or with `variant_in_turn` the
        variant of that number (a best-of group trying them all); `experiment=False`:
        none. With `fleet_labels` (a list, maybe empty), a new run is queued for the
        fleet instead: a worker (`adw worker`) with its engine and those labels runs it.

        With the adw_id of an existing run, that run continues from its last completed
        step instead, by default with the engine it last used. A second active run of the
        same workflow for the same issue is refused unless `force`. `with_run` is written
        in the transaction that creates a new run (a trigger's delivery settled with it).
        """
        if self._closing is not None:
            raise ShuttingDownError
        if model_set not in MODEL_SETS:
            raise AdwError(
                f"unknown model set {model_set!r}: choose one of {', '.join(MODEL_SETS)}"
            )
        services = self._services
        new_run = adw_id is None or not await self._exists(adw_id)
        # A new run of an experiment's workflow takes one of its variants.
        assignment = None
        if new_run and experiment:
            assignment = (
                self.experiments.in_turn(workflow, variant_in_turn)
                if variant_in_turn is not None
                else await self.experiments.assign(services.store, workflow)
            )
        if assignment is not None:
            variant = assignment.choice.variant
            workflow = variant.workflow or workflow
            engine = variant.engine or engine
            model_set = variant.model_set or model_set
            engine_env = {**variant.env, **(engine_env or {})}
        definition = get_workflow(workflow, services.repo).definition
        base = await self._base_branch()
        running = self._tasks.get(adw_id or "")
        if running is not None and not running.done():
            raise AdwError(f"run {adw_id} is already running in this process")
        if fleet_labels is not None and not new_run:
            raise AdwError(f"run {adw_id} already exists: only a new run is queued for workers")
        if new_run:
            adw_id = adw_id or new_adw_id()
            issue = await services.call_tracker(
                lambda tracker: tracker.get_issue(issue_number), adw_id=adw_id, step="launch"
            )
            if not force:
                await self._refuse_duplicate(issue.number, workflow)
            if self._closing is not None:  # closed while the issue was read
                raise ShuttingDownError
            first = RunState.model_validate(
                {
                    "adw_id": adw_id,
                    "issue_number": str(issue.number),
                    "model_set": model_set,
                    "all_adws": [workflow],
                    **issue_state(
                        issue, services.settings.max_issue_bytes, services.output_dir / adw_id
                    ),
                    "base_branch": base,
                    **(assignment.state() if assignment else {}),
                    **(state or {}),
                }
            )
            engine = engine or services.settings.engine
            if fleet_labels is not None:
                with_run = _both(
                    with_run,
                    queued_for_fleet(adw_id, FleetWants(engine=engine, labels=tuple(fleet_labels))),
                )
            await services.store.create_run(
                first,
                workflow=workflow,
                issue=str(issue.number),
                actor=RUNTIME_ACTOR,
                control=RunControl(engine=engine),
                exclusive=not force,
                with_run=with_run,
                owner=self.owner if fleet_labels is None else None,
            )
            if fleet_labels is not None:
                self.bus.publish(RunChanged(adw_id, RunStatus.QUEUED))
                return adw_id
        else:
            assert adw_id is not None  # not a new run: an existing one's id
            if with_run is not None:
                raise AdwError(
                    f"run {adw_id} already exists: a run started with a delivery needs an id "
                    "of its own"
                )
            if self._closing is not None:
                raise ShuttingDownError
            await self._begin_segment(adw_id, workflow, definition.first_state)
            await services.store.claims.requeue(adw_id, actor=RUNTIME_ACTOR, workflow=workflow)
            engine = engine or await self._engine_of(adw_id)
        assert adw_id is not None  # a new run was given one, an existing run has one
        from adw_tui.runtime.executor import RunExecutor

        executor = RunExecutor(
            services,
            adw_id,
            definition,
            engine=engine or services.settings.engine,
            engine_env=dict(engine_env or {}),
            stopping=lambda: self._closing is not None,
            pausing=lambda: adw_id in self._pausing,
        )
        task = asyncio.create_task(self._drive(adw_id, executor), name=adw_id)
        task.add_done_callback(self._forget)
        self._tasks[adw_id] = task
        self._executors[adw_id] = executor
        if self._requests is None:
            self._requests = asyncio.create_task(
                self._answer_pause_requests(), name="adw-pause-requests"
            )
        return adw_id

    async def replay(
        self,
        letter_id: int,
        *,
        from_start: bool = False,
        engine: str | None = None,
        engine_env: Mapping[str, str] | None = None,
    ) -> str:
        """Run a dead letter's run again: from the step that failed, with the state it
        failed with, or `from_start` with its first state. The letter records the replay;
        the run keeps its id, branch and worktree. Returns the adw_id."""
        store = self.store
        letter = await store.dead_letters.get(letter_id)
        if letter.status is not DeadLetterStatus.PENDING:
            raise AdwError(f"dead letter {letter_id} is already {letter.status}")
        definition = get_workflow(letter.workflow, self._services.repo).definition
        base_version = 1 if from_start else letter.state_version
        base = await store.get_version(letter.adw_id, base_version)
        from_step = definition.first_state if from_start else (letter.step or "")
        if from_step not in definition.states or definition.states[from_step].terminal:
            from_step = definition.first_state
        run = await store.get_run(letter.adw_id)
        if self._is_active(run):
            raise AdwError(
                f"run {run.adw_id} is {run.status}: dead letter {letter_id} is replayed once "
                "its run has stopped (cancel it, or run `adw recover` if the process running "
                "it is gone); nothing was written"
            )
        version = await store.save(
            letter.adw_id,
            base.state,
            run.version,
            reason=f"replay of dead letter {letter_id} from {from_step}",
            actor="replay",
            control=base.control.restarted_at(from_step),
        )
        await store.dead_letters.mark_replayed(
            letter_id, from_step=from_step, state_version=version, actor="replay"
        )
        return await self.launch(
            int(run.issue or 0),
            workflow=letter.workflow,
            engine=engine or letter.request.get("engine"),
            adw_id=letter.adw_id,
            engine_env=engine_env,
        )

    async def rollback(
        self, adw_id: str, version: int, *, reset_worktree: bool, actor: str = "operator"
    ) -> int:
        """Write a new version of the run equal to `version` (a fork with it as parent)
        and, with `reset_worktree`, reset the run's worktree to that version's commit.
        Refused while the run is queued or running, and, before anything is written, when
        the worktree cannot be reset (see `runtime.rollback`). Returns the new version."""
        return await rollback_run(
            self.store, adw_id, version, reset_worktree=reset_worktree, actor=actor
        )

    async def replay_all(
        self,
        selection: DeadLetterFilter,
        *,
        from_start: bool = False,
        engine: str | None = None,
    ) -> list[DeadLetter]:
        """Replay (see `replay`) every pending dead letter that `selection` matches,
        oldest first; returns them as they were selected. A letter that cannot be
        replayed stops here with its error; the runs started before it go on."""
        pending = await self.store.dead_letters.list()
        letters = [letter for letter in pending if selection.matches(letter)]
        for letter in letters:
            await self.replay(letter.id, from_start=from_start, engine=engine)
        return letters

    def _is_active(self, run: RunRecord) -> bool:
        """Queued or running, here or in another process."""
        task = self._tasks.get(run.adw_id)
        running_here = task is not None and not task.done()
        return running_here or run.status in (RunStatus.QUEUED, RunStatus.RUNNING)

    async def drop_dead_letter(self, letter_id: int, *, actor: str = "operator") -> DeadLetter:
        """Take a pending dead letter off the queue as dropped; its row stays."""
        return await self.store.dead_letters.drop(letter_id, actor=actor)

    async def wait(self, adw_id: str) -> RunRecord:
        """Wait for a run launched here to end; return its final record."""
        task = self._tasks.get(adw_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
        return await self.store.get_run(adw_id)

    async def cancel(self, adw_id: str) -> None:
        """Stop a run this process executes (its agent is killed), or a paused run."""
        task = self._tasks.get(adw_id)
        if task is None or task.done():
            run = await self.store.get_run(adw_id)
            if run.status is not RunStatus.PAUSED:
                raise AdwError(f"run {adw_id} is not running in this process")
            await self.store.set_status(
                adw_id, RunStatus.CANCELLED, actor="operator", current_step=run.current_step
            )
            self.bus.publish(RunChanged(adw_id, RunStatus.CANCELLED))
            return
        self._cancelled.add(adw_id)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def pause(self, adw_id: str, *, actor: str = "operator") -> RunRecord:
        """Pause a running run, here or in the process that executes it (see
        `runtime.pausing`): its step is stopped, its slot freed, and it stays `paused`,
        across restarts too, until `resume`. Returns the run as the pause left it."""
        task = self._tasks.get(adw_id)
        run = await self.store.get_run(adw_id)
        if task is None or task.done() or run.owner != self.owner:
            return await pause_elsewhere(self.store, adw_id, actor=actor)
        refuse_pause(run)
        self._start_pause(adw_id, actor)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return await self.store.get_run(adw_id)

    def _start_pause(self, adw_id: str, actor: str) -> None:
        """Stop the run's step now, or, while a built-in action runs, once it has ended
        (see `RunExecutor.in_action`); `_drive` records the pause."""
        self._pausing[adw_id] = actor
        if self._executors[adw_id].in_action:
            self.bus.publish(RunChanged(adw_id, RunStatus.RUNNING, PAUSING_AFTER_ACTION))
        else:
            self._tasks[adw_id].cancel()

    async def resume(self, adw_id: str, *, engine_env: Mapping[str, str] | None = None) -> str:
        """Queue a paused run again: with a slot it goes on with the step it was paused
        in (from that step's session where the engine can). Returns its adw_id."""
        run = await self.store.get_run(adw_id)
        refuse_resume(run)
        return await self.launch(
            int(run.issue or 0), workflow=run.workflow, adw_id=adw_id, engine_env=engine_env
        )

    async def retry(self, adw_id: str, *, engine_env: Mapping[str, str] | None = None) -> str:
        """Run a stopped run again from where it stopped; returns its adw_id.

        A dead-lettered run replays its pending dead letter from the step that failed; an
        interrupted, failed or cancelled run resumes from its last completed step with
        the engine of its last agent call. A queued, running or succeeded run is refused.
        """
        run = await self.store.get_run(adw_id)
        if self._is_active(run):
            raise AdwError(
                f"run {adw_id} is {run.status}: only a stopped run can be retried; cancel it "
                "first, or run `adw recover` if the process running it is gone"
            )
        if run.status is RunStatus.SUCCEEDED:
            raise AdwError(f"run {adw_id} succeeded: there is nothing to retry")
        if run.status is RunStatus.DEAD_LETTERED:
            pending = await self.store.dead_letters.pending_for(adw_id)
            if pending is None:
                raise AdwError(
                    f"run {adw_id} is dead-lettered but has no pending dead letter (it was "
                    "dropped): nothing to replay"
                )
            return await self.replay(pending.id, engine_env=engine_env)
        return await self.launch(
            int(run.issue or 0),
            workflow=run.workflow,
            adw_id=adw_id,
            engine_env=engine_env,
        )

    async def worktree_diff(self, adw_id: str) -> WorktreeDiff:
        """What the run changed in its worktree, committed or not, since its branch
        forked from the base branch."""
        state = (await self.store.load(adw_id)).state
        return await run_worktree_diff(adw_id, state, self._services.repo)

    # Stepping in: a person takes over (see runtime.handover)

    async def plan_attach(self, adw_id: str, *, running: bool = False) -> Handover:
        """The engine's interactive session resuming the run's latest agent session, in
        its worktree; an AdwError saying why not (a running run unless `running`, no
        session, no worktree, an engine without an interactive mode)."""
        return await plan_attach(self.store, adw_id, self._services.settings, running=running)

    async def plan_shell(self, adw_id: str) -> Handover:
        """The operator's shell in the run's worktree, with the run's ports."""
        return await plan_shell(self.store, adw_id, os.environ)

    async def handed_back(
        self, handover: Handover, *, exit_code: int, started: datetime, ended: datetime, actor: str
    ) -> int | None:
        """Record that a person took the run over (see `runtime.handover.record_return`)."""
        return await record_return(
            self.store, handover, exit_code=exit_code, started=started, ended=ended, actor=actor
        )

    async def push_branch(self, adw_id: str, *, actor: str) -> "Pushed":
        """Push the run's branch to origin, never forced (see `runtime.branch_actions`)."""
        from adw_tui.runtime.branch_actions import push_run_branch

        return await push_run_branch(self._services, adw_id, actor=actor)

    async def choose(self, winner: str, *, actor: str) -> "Chosen":
        """Choose `winner` of its best-of group (the others are marked not chosen). Its
        branch goes on: a winner that succeeded was kept back from origin while it awaited
        the choice, so with a tracker that hosts pull requests it is pushed and its pull
        request opened now; one not finished goes on at its own `push` step."""
        from adw_tui.runtime.best_of import choose
        from adw_tui.runtime.branch_actions import Chosen, publish_run

        members = await choose(self.store, winner, actor=actor)
        await self.store.audit.record(
            actor=actor, action="best_of.choose", adw_id=winner, detail={"group": members}
        )
        if not isinstance(self.tracker, PullRequestHost):
            return Chosen(members, held=f"the {self.tracker.name} tracker hosts no pull requests")
        status = (await self.store.get_run(winner)).status
        if status is not RunStatus.SUCCEEDED:
            return Chosen(
                members, held=f"it is {status}: its own push step publishes it once it gets there"
            )
        return Chosen(members, await publish_run(self._services, winner, actor=actor))

    async def web_url(self, adw_id: str) -> str:
        """The run's pull request, else its branch on origin's web site."""
        from adw_tui.runtime.branch_actions import run_web_url

        return await run_web_url(self._services, adw_id)

    def transcript_path(self, adw_id: str, agent: str) -> Path:
        """The raw stream (`raw_output.jsonl`) of the run's latest call of `agent`: each
        call of an agent starts a new one."""
        return self._services.output_dir / adw_id / agent / RAW_OUTPUT_FILE

    def attempt_transcript_path(self, adw_id: str, agent: str, attempt_id: int) -> Path | None:
        """The raw stream of one step attempt's agent call, kept when the agent started
        (see `runtime.attempt_transcripts`); None when it was not kept (runs from before
        attempts kept theirs, a call that never started, no hard links)."""
        kept = attempt_transcript(self._services.output_dir / adw_id / agent, attempt_id)
        return kept if kept.is_file() else None

    def _workflow_of(self, adw_id: str) -> str | None:
        """The workflow of a run this process executes."""
        executor = self._executors.get(adw_id)
        return executor.workflow_name if executor is not None else None

    def running(self) -> list[str]:
        """The runs this process has launched and not yet finished, queued ones included."""
        return list(self._tasks)

    def subscribe(self) -> AsyncIterator[RuntimeEvent]:
        return self.bus.subscribe()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self, grace_s: float = 0.0) -> None:
        """Stop taking work; let running steps finish for up to `grace_s`, then stop the
        rest (their agents are killed). Every run stopped this way is `interrupted`: it
        resumes from its last completed step with `adw run --adw-id` or `adw recover`.

        Idempotent: a second call (or one made while the first runs) waits for the first."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._stop_runs(grace_s))
        await asyncio.shield(self._closing)

    async def _stop_runs(self, grace_s: float) -> None:
        running = list(self._tasks.values())
        if running and grace_s > 0:
            await asyncio.wait(running, timeout=grace_s)
        stopping: list[asyncio.Task[Any]] = [*running, *filter(None, [self._requests])]
        for task in stopping:
            task.cancel()
        await asyncio.gather(*stopping, return_exceptions=True)
        if self._notifier is not None:
            await self._notifier.drain()
        if self._owns_tracker:
            await self._services.tracker.aclose()

    def _forget(self, task: "asyncio.Task[RunStatus]") -> None:
        """A finished run leaves the running set; its outcome is in the store (an error
        is seen by whoever waits for it, and is not reported again when nobody does)."""
        if self._tasks.get(task.get_name()) is task:
            del self._tasks[task.get_name()]
            del self._executors[task.get_name()]
            self._pausing.pop(task.get_name(), None)  # a pause the run ended before
        if not task.cancelled():
            task.exception()

    async def _drive(self, adw_id: str, executor: "RunExecutor") -> RunStatus:
        # This task's log lines, the standard library's included, name the run (the
        # binding stays in the task: it runs in a copy of the launching context).
        bind_run(adw_id, executor.workflow_name)
        store = self.store
        self.bus.publish(RunChanged(adw_id, RunStatus.QUEUED))
        try:
            async with self.resources.slot(adw_id):
                await store.claims.claim(adw_id, self.owner)
                self.bus.publish(RunChanged(adw_id, RunStatus.RUNNING))
                heartbeat = asyncio.create_task(self._heartbeat(adw_id))
                try:
                    with span(
                        f"run {executor.workflow_name}",
                        {"adw.id": adw_id, "adw.workflow": executor.workflow_name},
                    ) as run_span:
                        status = await self._execute(adw_id, executor)
                        annotate(run_span, {"adw.status": str(status)})
                        return status
                finally:
                    heartbeat.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await heartbeat
                    await asyncio.shield(store.claims.release(adw_id, self.owner))
        except RunClaimedError as claimed:
            # Another process won the claim: the run is theirs, nothing to record here.
            self.bus.publish(RunChanged(adw_id, RunStatus.RUNNING, str(claimed)))
            raise
        except asyncio.CancelledError:
            if self._pausing.pop(adw_id, None) is not None:
                # The pause came as the run ended: the status it ended with stands.
                raise
            # Cancelled by an operator; otherwise stopped with this process (then it can
            # resume).
            operator = adw_id in self._cancelled
            self._cancelled.discard(adw_id)
            status = RunStatus.CANCELLED if operator else RunStatus.INTERRUPTED
            await asyncio.shield(
                store.steps.close_running(adw_id, error=f"{status}: the run was stopped")
            )
            await asyncio.shield(store.set_status(adw_id, status, actor=RUNTIME_ACTOR))
            self.bus.publish(RunChanged(adw_id, status))
            raise
        except DatabaseWriteError as error:
            # The database refused a write: no dead letter can be written either.
            raise await interrupt_unsaved(store, self.bus, adw_id, self.owner, error) from error
        except Exception as error:
            # Not an agent failure (those follow the workflow): a git, disk or store
            # problem. The run becomes a dead letter, so it can be replayed once fixed.
            logger.exception("run %s stopped by an internal error", adw_id)
            run = await store.get_run(adw_id)
            message = f"{type(error).__name__}: {error}"
            # The attempt the error broke off is over: no state version will close it.
            await store.steps.close_running(adw_id, error=f"internal: {message}")
            await store.dead_letters.add(
                NewDeadLetter(
                    adw_id=adw_id,
                    workflow=run.workflow,
                    step=run.current_step,
                    state_version=run.version,
                    error_class="internal",
                    error_message=message,
                    attempts=1,
                ),
                actor=RUNTIME_ACTOR,
            )
            self.bus.publish(RunChanged(adw_id, RunStatus.DEAD_LETTERED, message))
            return RunStatus.DEAD_LETTERED
        finally:
            # The worktree stays for inspection; its ports go back to the pool.
            await asyncio.shield(self._services.ports.release(adw_id))

    async def _execute(self, adw_id: str, executor: "RunExecutor") -> RunStatus:
        """The run executed (claimed by this process) until it ends or is paused: a
        pause's cancel, or the executor stopping for a pause, is recorded here, while the
        run is still claimed (no other process sees it running without an owner)."""
        try:
            status = await executor.execute()
        except asyncio.CancelledError:
            if adw_id not in self._pausing:
                raise
            status = RunStatus.PAUSED
        if status is not RunStatus.PAUSED:
            return status
        return await asyncio.shield(self._settle_pause(adw_id, self._pausing.pop(adw_id)))

    async def _settle_pause(self, adw_id: str, actor: str) -> RunStatus:
        """The run was stopped by a pause: its open attempt, if any, ends `paused` (keeping
        its session), the run `paused` at the step it goes on with."""
        store = self.store
        loaded = await store.load(adw_id)
        step = loaded.control.next_state or loaded.run.current_step
        await store.steps.close_running(
            adw_id, error=f"paused by {actor}", status=StepStatus.PAUSED
        )
        await store.set_status(adw_id, RunStatus.PAUSED, actor=actor, current_step=step)
        self.bus.publish(RunChanged(adw_id, RunStatus.PAUSED))
        return RunStatus.PAUSED

    async def _answer_pause_requests(self) -> None:
        """Pause the runs this process executes that another process asked to pause (see
        `runtime.pausing`), every `REQUEST_POLL_S` while any run is here."""
        while True:
            await asyncio.sleep(REQUEST_POLL_S)
            if not self._tasks:
                continue
            try:
                for adw_id in await self.store.claims.pause_requests(self.owner):
                    if adw_id in self._tasks and adw_id not in self._pausing:
                        self._start_pause(adw_id, "pause request")
            except Exception:  # the run ended meanwhile, the database failed: ask again
                logger.exception("pause requests not answered")

    async def _begin_segment(self, adw_id: str, workflow: str, first_state: str) -> None:
        """Another workflow on an existing run (the original's `adw_test_iso.py N ID`): a
        new version starts it from its first state, on the run's state and worktree. The
        same workflow continues where it stopped, so nothing is written."""
        store = self.store
        loaded = await store.load(adw_id)
        if loaded.run.workflow == workflow:
            return
        if self._is_active(loaded.run):
            raise AdwError(
                f"run {adw_id} is {loaded.run.status}: workflow {workflow} runs on it once "
                "it has stopped (cancel it, or `adw recover` if its process is gone)"
            )
        state = loaded.state.model_copy(update={"all_adws": [*loaded.state.all_adws, workflow]})
        await store.save(
            adw_id,
            state,
            loaded.run.version,
            reason=f"workflow {workflow} after {loaded.run.workflow}",
            actor=RUNTIME_ACTOR,
            control=loaded.control.restarted_at(first_state),
        )

    async def _engine_of(self, adw_id: str) -> str | None:
        """The engine a run goes on with: the one its last agent call used, else the one
        it was launched with (a run stopped before any agent call recorded one)."""
        store = self.store
        last = await store.steps.last_engine(adw_id)
        if last is not None:
            return last
        return (await store.load(adw_id)).control.engine

    async def _heartbeat(self, adw_id: str) -> None:
        """Tell other processes this one is alive and still executing the run."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            await self.store.claims.heartbeat(adw_id, self.owner)
            await self.store.leases.heartbeat(self.holder)

    async def _base_branch(self) -> str:
        """The branch new runs start from, asked of git once (a clear error for a
        directory that is no repository, or one without commits)."""
        if self._base is None:
            await git.head(self.repo)
            self._base = self._services.settings.base_branch or await git.default_branch(self.repo)
        return self._base

    async def _refuse_duplicate(self, issue: int, workflow: str) -> None:
        """Refuse early, before anything is written (`create_run` checks again, in its
        transaction, for a launch racing this one)."""
        run = await self.store.active_run_for(str(issue), workflow)
        if run is not None:
            raise ActiveRunError(str(issue), workflow, run.adw_id, run.status)

    async def _exists(self, adw_id: str) -> bool:
        try:
            await self.store.get_run(adw_id)
        except AdwError:
            return False
        return True

    def _publish_queue(self, snapshot: ResourceSnapshot) -> None:
        self.bus.publish(
            QueueChanged(
                tuple(snapshot.queued),
                tuple(snapshot.running),
                snapshot.slots_total,
                tuple(snapshot.waiting_for_other_processes),
                tuple(snapshot.waiting_for_memory),
                tuple(snapshot.waiting_for_budget),
            )
        )


def _both(first: Write[None] | None, second: Write[None]) -> Write[None]:
    """One write doing `first` (if any), then `second`, in the same transaction."""

    def both(connection: SyncWriter) -> None:
        if first is not None:
            first(connection)
        second(connection)

    return both
