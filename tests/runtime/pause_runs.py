"""What the pause tests of the runtime, the CLI and the dashboard share: a short
workflow whose agent steps are slow enough to be caught running, the simulated agents
this test process started, and a way to await a runtime event."""

import asyncio
from collections.abc import Callable
from pathlib import Path

import psutil

from adw_tui.domain.agent import AgentEventKind
from adw_tui.runtime.events import AgentActivity, EventBus, RuntimeEvent

TWO_STEPS = "two_steps"
# The first step's agent says who it is (its `init` line), then hangs until stopped.
HANGS = {"ADW_SIM_FAULTS": "classify_issue=hang"}
# Each line of the simulated agent paced, so that a step runs for a second or two.
SLOW = {"ADW_SIM_DELAY": "0.5"}


def write_two_steps(repo: Path) -> None:
    """A repository workflow of two agent steps (classify, then name the branch)."""
    workflows = repo / ".adw" / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    (workflows / f"{TWO_STEPS}.yaml").write_text(
        f"name: {TWO_STEPS}\n"
        "states:\n"
        "  classify:\n"
        "    command: /classify_issue\n"
        "    agent: issue_classifier\n"
        '    args: ["${issue_json}"]\n'
        "    output: classification\n"
        "    save: issue_class\n"
        "    on_success: name_branch\n"
        "  name_branch:\n"
        "    command: /generate_branch_name\n"
        "    agent: branch_generator\n"
        '    args: ["${issue_class}", "${adw_id}", "${issue_json}"]\n'
        "    output: branch_name\n"
        "    save: branch_name\n"
        "    on_success: complete\n"
        "  complete: {terminal: true}\n"
        "  dead_letter: {terminal: true, action: record_failure}\n"
    )


def next_event(
    bus: EventBus, matches: Callable[[RuntimeEvent], bool]
) -> "asyncio.Future[RuntimeEvent]":
    """The next event published on `bus` that `matches` (listened for from now on)."""
    loop = asyncio.get_running_loop()
    found: asyncio.Future[RuntimeEvent] = loop.create_future()

    def listen(event: RuntimeEvent) -> None:
        if matches(event) and not found.done():
            found.set_result(event)
            # Not now: the bus is going through its listeners.
            loop.call_soon(bus.listeners.remove, listen)

    bus.listeners.append(listen)
    return found


def agent_started(adw_id: str, step: str) -> Callable[[RuntimeEvent], bool]:
    """Matches the start (`init` line) of an agent of the run's step: its session is then
    recorded."""
    return lambda event: (
        isinstance(event, AgentActivity)
        and (event.adw_id, event.step) == (adw_id, step)
        and event.event.kind is AgentEventKind.INIT
    )


def sim_agents() -> list[psutil.Process]:
    """The simulated agents this test process started, still alive."""
    agents = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "adw_tui.agents.sim" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                agents.append(child)
        except psutil.Error:
            continue
    return agents
