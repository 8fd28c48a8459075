"""The workflows screen: every workflow listed, the highlighted one drawn as a graph, a
broken repository file listed with its error, `l` asking the app to launch."""

from pathlib import Path
from typing import cast

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Footer, HelpPanel, Markdown, Static

from adw_tui.config import Settings
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import AdwApp, create_app
from adw_tui.tui.screens.workflows import WorkflowList, WorkflowsScreen
from adw_tui.tui.widgets.workflow_graph import GraphDrawing, WorkflowGraph
from adw_tui.workflows.graph import plain
from adw_tui.workflows.loader import REPO_WORKFLOWS_DIR, load_workflows
from tests.tui.conftest import FIXED_REPO, SnapCompare, record_notifications, settle

# One engine: the workflow definitions, not the store's data.
from tests.tui.conftest import sqlite_alone as engine  # noqa: F401

BUILTIN_NAMES = sorted(load_workflows(None))

MINE = """\
name: mine
description: Just plan
states:
  plan:
    command: /feature
    agent: sdlc_planner
    on_success: complete
  complete:
    terminal: true
  dead_letter:
    terminal: true
    action: record_failure
"""
BROKEN = MINE.replace("name: mine", "name: broken").replace(
    "on_success: complete", "on_success: nowhere"
)


async def open_workflows(pilot: Pilot[None]) -> WorkflowsScreen:
    """Open the workflows with the dashboard's `w`: their section."""
    await pilot.press("w")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, WorkflowsScreen)
    return screen


def listed(screen: WorkflowsScreen) -> list[str]:
    workflow_list = screen.query_one(WorkflowList)
    return [
        workflow_list.get_option_at_index(n).id or "" for n in range(workflow_list.option_count)
    ]


def shown(screen: WorkflowsScreen) -> tuple[str, str]:
    """The detail's text, and the graph's text at its width."""
    about = str(screen.query_one("#workflows-about", Static).render())
    drawing = screen.query_one(GraphDrawing)
    return about, "\n".join(plain(line) for line in drawing.lines(drawing.size.width))


def capture(app: AdwApp, monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """The LaunchRequested messages that reach the app from now on."""
    posted: list[Message] = []
    post = app.post_message

    def record(message: Message) -> bool:
        if isinstance(message, WorkflowsScreen.LaunchRequested):
            posted.append(message)
        return post(message)

    monkeypatch.setattr(app, "post_message", record)
    return posted


@pytest.fixture
def app(store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator) -> AdwApp:
    return create_app(store, repo, settings, orchestrator=orchestrator)


async def test_every_builtin_is_listed_and_the_first_drawn(app: AdwApp):
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_workflows(pilot)
        assert listed(screen) == BUILTIN_NAMES
        assert screen.query_one(WorkflowList).has_focus
        about, graph = shown(screen)
        assert about.startswith("build  Implement an existing run's plan and commit")
        assert "adw_tui/workflows/builtin/build.yaml · 5 states · start: worktree" in about
        assert graph.startswith("╭─ worktree · start ")
        assert "╭─ commit_build " in graph
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_keyboard_and_mouse_choose_the_workflow_drawn(app: AdwApp):
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_workflows(pilot)
        await pilot.press("down")
        await settle(pilot)
        assert shown(screen)[0].startswith("document ")
        await pilot.press("end")
        await settle(pilot)
        about, graph = shown(screen)
        assert about.startswith("test ")
        assert "on_success → test ↺" in graph
        # Each option is two lines (name, description), under the list's border.
        patch = BUILTIN_NAMES.index("patch")
        await pilot.click(WorkflowList, offset=(4, 1 + 2 * patch))
        await settle(pilot)
        assert shown(screen)[0].startswith("patch ")
        graph_view = screen.query_one(WorkflowGraph)
        await pilot.press("tab")
        assert graph_view.has_focus
        await pilot.press("end")
        await settle(pilot)
        assert graph_view.scroll_y > 0
        await pilot.press("shift+tab")
        await pilot.press("home")
        await settle(pilot)
        assert shown(screen)[0].startswith("build ")
        assert graph_view.scroll_y == 0  # a workflow newly shown is drawn from its top


async def test_repository_workflows_and_a_broken_file(
    app: AdwApp, repo: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = repo / REPO_WORKFLOWS_DIR
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text(MINE)
    (folder / "zz_broken.yaml").write_text(BROKEN)
    notified = record_notifications(app, monkeypatch)
    posted = capture(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_workflows(pilot)
        assert listed(screen) == [*sorted([*BUILTIN_NAMES, "mine"]), "error-0"]
        workflow_list = screen.query_one(WorkflowList)
        broken = str(workflow_list.get_option("error-0").prompt)
        assert broken.startswith("⚠ .adw/workflows/zz_broken.yaml")
        assert 'names unknown state "nowhere"' in broken
        assert "repository" in str(workflow_list.get_option("mine").prompt)
        workflow_list.highlighted = listed(screen).index("mine")
        await settle(pilot)
        about, graph = shown(screen)
        assert ".adw/workflows/mine.yaml · 3 states · start: plan" in about
        assert "╭─ plan · start " in graph
        await pilot.press("end", "l")
        await settle(pilot)
        about, graph = shown(screen)
        assert about.startswith(".adw/workflows/zz_broken.yaml does not load")
        assert graph == ""
        assert notified[-1]["severity"] == "warning"
        assert posted == []
        # Fixed and read again: listed among the others, the cursor where it was.
        (folder / "zz_broken.yaml").write_text(BROKEN.replace("nowhere", "complete"))
        await pilot.press("up", "r")
        await settle(pilot)
        assert listed(screen) == sorted([*BUILTIN_NAMES, "broken", "mine"])
        assert shown(screen)[0].startswith("test ")
        assert notified[-1]["message"] == f"{len(BUILTIN_NAMES) + 2} workflows read"


async def test_l_asks_the_app_to_launch_the_highlighted_workflow(
    app: AdwApp, monkeypatch: pytest.MonkeyPatch
):
    posted = capture(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_workflows(pilot)
        screen.query_one(WorkflowList).highlighted = BUILTIN_NAMES.index("sdlc")
        await pilot.press("l")
        await settle(pilot)
        assert [cast(WorkflowsScreen.LaunchRequested, m).workflow for m in posted] == ["sdlc"]


async def test_usable_at_80x24_with_help(app: AdwApp):
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_workflows(pilot)
        workflow_list = screen.query_one(WorkflowList)
        graph_view = screen.query_one(WorkflowGraph)
        assert workflow_list.region.width >= 28  # the longest built-in name fits
        assert graph_view.region.right <= 80
        assert graph_view.region.height >= 12
        assert screen.query_one(Footer).region.y == 23
        drawing = screen.query_one(GraphDrawing)
        lines = drawing.lines(drawing.size.width)
        assert max(len(plain(line)) for line in lines) <= graph_view.scrollable_content_region.width
        await pilot.press("f1")
        await settle(pilot)
        help_text = str(screen.query_one(HelpPanel).query_one(Markdown).source)
        assert help_text.startswith("## Workflows")
        graph_view.focus()
        await settle(pilot)
        help_text = str(screen.query_one(HelpPanel).query_one(Markdown).source)
        assert help_text.startswith("## Workflow graph")


# Snapshots: the built-ins only (the fixed repository has no .adw/workflows).


def open_fixed(*keys: str):
    async def run_before(pilot: Pilot[None]) -> None:
        screen = await open_workflows(pilot)
        assert cast(AdwApp, pilot.app).repo == FIXED_REPO
        assert listed(screen) == BUILTIN_NAMES
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


def test_snapshot_workflows_120x40(snap_compare: SnapCompare, fixed_app: AdwApp):
    """The review workflow: its fix loop, and the skip over it."""
    review = ["down"] * BUILTIN_NAMES.index("review")
    assert snap_compare(fixed_app, terminal_size=(120, 40), run_before=open_fixed(*review))


def test_snapshot_workflows_80x24(snap_compare: SnapCompare, fixed_app: AdwApp):
    """The test workflow, scrolled to its loop."""
    test = ["down"] * BUILTIN_NAMES.index("test")
    keys = [*test, "tab", *["down"] * 8]
    assert snap_compare(fixed_app, terminal_size=(80, 24), run_before=open_fixed(*keys))
