"""A workflow drawn as text: its states as boxes in execution order, its transitions as
arrows between them.

Pure and deterministic: no terminal, no Textual. A line is a tuple of spans, each with a
`Role` that a view turns into a style (the dashboard maps roles to its theme's colours);
`plain` joins a line's text. The drawing's glyphs are one cell wide and text is wrapped
by cells (a CJK character takes two), so no line is wider than the width asked for.

    ╭─ test ──────────────────────╮◀─╮    a box per state: what it runs,
    │ /test                       │  │    its description and settings,
    │ run the tests               │  │    then the transitions that do not
    │ agent: test_runner, ...     │  │    simply go to the box below
    │ on_success → commit_tests   ├──┼─╮
    │ on_failure → dead_letter ■  │  │ │  ■: to a terminal state, named only
    ╰─────────────────────────────╯  │ │
      │ on_reject                    │ │  the transition to the box below
      ▼                              │ │
    ╭─ resolve_tests ─────────────╮  │ │
    │ /resolve_failed_test        │  │ │
    │ on_success → test ↺         ├──╯ │  a lane: from ├ to ◀, up for a loop
    ╰─────────────────────────────╯    │  (↺), down to skip boxes
                                       │
    ╭─ commit_tests ──────────────╮◀───╯

Transitions to terminal states are named, not drawn: every state may fail to
`dead_letter`, and as many lanes would hide the rest. Terminal states are double boxes.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from rich.cells import cell_len, chop_cells

from adw_tui.domain.workflow import Action, StepDef, WorkflowDef

MIN_WIDTH = 24
"""Narrower widths are drawn at this width."""
MAX_BOX_WIDTH = 72
"""Boxes stop growing here: wider ones are harder to read, not easier."""
MIN_BOX_WIDTH = 22
"""Lanes are given up (longest first) rather than narrow a box below this."""
MAX_LANES = 8


class Role(StrEnum):
    """What a span shows; the view styles each role. The transition roles are named
    after the fields that declare them."""

    SPACE = "space"
    BOX = "box"
    TERMINAL = "terminal"
    NAME = "name"
    TAG = "tag"
    UNREACHABLE = "unreachable"
    RUNS = "runs"
    NOTE = "note"
    DETAIL = "detail"
    ON_SUCCESS = "on_success"
    ON_REJECT = "on_reject"
    ON_FAILURE = "on_failure"
    ON_EXHAUSTED = "on_exhausted"
    LANE = "lane"
    LOOP = "loop"


class Span(NamedTuple):
    text: str
    role: Role


GraphLine = tuple[Span, ...]

LOOP_MARK = "↺"
TERMINAL_MARK = "■"

# A row's place in the graph, in drawing order: (box index, 0, 0) is the box's top
# border, (box index, 1, k) the first line of its k-th transition row.
_Key = tuple[int, int, int]
# Spans that are broken across lines only when longer than a line.
_Word = list[Span]


def plain(line: GraphLine) -> str:
    return "".join(span.text for span in line)


def step_details(step: StepDef) -> list[str]:
    """The settings worth showing: those a command step always has, and any not default."""
    details: list[str] = []
    if step.agent:
        details.append(f"agent: {step.agent}")
    if step.command is not None:
        saved = f" → ${{{step.save}}}" if step.save else ""
        details.append(f"output: {step.output}{saved}")
    if step.scouts is not None:
        details.append(f"scouts: {', '.join(scout.label for scout in step.scouts)}")
    optional: dict[str, Any] = {
        "when": step.when,
        "model": step.model,
        "engine": step.engine,
        "timeout": step.timeout,
        "max_retries": step.max_retries or None,
        "max_visits": step.max_visits,
        "scale": step.scale,
    }
    details.extend(f"{key}: {value}" for key, value in optional.items() if value is not None)
    return details


def execution_order(workflow: WorkflowDef) -> list[str]:
    """The states top to bottom: the start state, then the `on_success` chain from it.
    Right after each state come the states off the chain that it leads to (depth first,
    `on_success` last), so a fix loop hangs under the state it fixes; then the chain goes
    on. Unreachable states follow, then the terminal states: the chain's end first, the
    others in the order they are first named."""
    states = workflow.states
    chain: list[str] = []
    current: str | None = workflow.first_state
    while current is not None and current not in chain:
        chain.append(current)
        current = states[current].on_success
    order: list[str] = []

    def place(name: str) -> None:
        if name in order or states[name].terminal:
            return
        order.append(name)
        for target in _branch_first(states[name]):
            if target not in chain:
                place(target)

    for name in [*chain, *states]:
        place(name)
    named = [target for name in order for target in _branch_first(states[name])]
    ends = [chain[-1], *named, *states]
    order.extend(dict.fromkeys(n for n in ends if states[n].terminal and n not in order))
    return order


def reachable(workflow: WorkflowDef) -> set[str]:
    """The states some run can enter: those the start state leads to."""
    return workflow.reachable_states()


def render_graph(workflow: WorkflowDef, width: int) -> list[GraphLine]:
    """The workflow's graph in lines of at most `width` cells (at least `MIN_WIDTH`)."""
    return _Layout(workflow, max(width, MIN_WIDTH)).lines()


def _branch_first(step: StepDef) -> list[str]:
    """The step's targets, `on_success` last: branches are placed before the chain goes on."""
    transitions = step.transitions()
    success = transitions.pop("on_success", None)
    return [*transitions.values(), *([success] if success else [])]


@dataclass
class _Lane:
    """The transitions into one state from boxes other than the one above it: they
    leave their rows and join one line that arrives at the state's top border."""

    arrival: _Key
    departures: list[_Key] = field(default_factory=list)

    @property
    def first(self) -> _Key:
        return min(self.arrival, *self.departures)

    @property
    def last(self) -> _Key:
        return max(self.arrival, *self.departures)

    @property
    def loops(self) -> bool:
        return any(departure > self.arrival for departure in self.departures)

    def overlaps(self, other: "_Lane") -> bool:
        return not (self.last < other.first or other.last < self.first)


@dataclass
class _Row:
    spans: list[Span]
    key: _Key | None = None


class _Layout:
    def __init__(self, workflow: WorkflowDef, width: int) -> None:
        self.states = workflow.states
        self.order = execution_order(workflow)
        self.index = {name: i for i, name in enumerate(self.order)}
        self.start = workflow.first_state
        self.reachable = reachable(workflow)
        max_lanes = min(MAX_LANES, (width - MIN_BOX_WIDTH - 1) // 2)
        self.lanes = self._assign_lanes(max(max_lanes, 0))
        lane_cells = 2 * len(self.lanes) + 1 if self.lanes else 0
        self.box_width = min(MAX_BOX_WIDTH, width - lane_cells)

    # Which transition goes where

    def _next(self, i: int) -> str | None:
        return self.order[i + 1] if i + 1 < len(self.order) else None

    def _listed(self, i: int) -> list[tuple[str, str]]:
        """The transitions written in box `i`: all but those to the box below it."""
        following = self._next(i)
        step = self.states[self.order[i]]
        return [(f, target) for f, target in step.transitions().items() if target != following]

    def _assign_lanes(self, max_lanes: int) -> list[list[_Lane]]:
        """Lanes by target, each in the innermost column free over its rows (short ones
        first, so they nest inside long ones); those beyond `max_lanes` are not drawn."""
        by_target: dict[str, _Lane] = {}
        for i, _name in enumerate(self.order):
            for k, (_field, target) in enumerate(self._listed(i)):
                if self.states[target].terminal:
                    continue
                lane = by_target.setdefault(target, _Lane((self.index[target], 0, 0)))
                lane.departures.append((i, 1, k))
        columns: list[list[_Lane]] = []
        for lane in sorted(by_target.values(), key=lambda x: (x.last[0] - x.first[0], x.first)):
            column = next((c for c in columns if not any(lane.overlaps(o) for o in c)), None)
            if column is None:
                column = []
                columns.append(column)
            column.append(lane)
        return columns[:max_lanes]

    # Drawing

    def lines(self) -> list[GraphLine]:
        rows: list[_Row] = []
        for i, name in enumerate(self.order):
            rows.extend(self._box(i, name))
            rows.extend(self._connector(i))
        grid = self._lane_grid(rows)
        return [
            _joined(
                [*row.spans, Span(" " * (self.box_width - _cells(row.spans)), Role.SPACE), *cells]
            )
            for row, cells in zip(rows, grid, strict=True)
        ]

    def _box(self, i: int, name: str) -> list[_Row]:
        step = self.states[name]
        border = Role.TERMINAL if step.terminal else Role.BOX
        (top_left, top_right, bottom_left, bottom_right, across, side) = (
            "╔╗╚╝═║" if step.terminal else "╭╮╰╯─│"
        )
        inner = self.box_width - 4
        title = [Span(name, Role.NAME)]
        if name == self.start:
            title.append(Span(" · start", Role.TAG))
        if step.terminal:
            title.append(Span(f" {TERMINAL_MARK}", Role.TAG))
        if name not in self.reachable:
            title.append(Span(" · unreachable", Role.UNREACHABLE))
        title = _truncated(title, self.box_width - 6)
        fill = across * (self.box_width - 5 - _cells(title))
        rows = [
            _Row(
                [Span(f"{top_left}{across} ", border), *title, Span(f" {fill}{top_right}", border)],
                key=(i, 0, 0),
            )
        ]

        def content(words: list[_Word], key: _Key | None = None) -> None:
            for n, line in enumerate(_wrapped(words, inner)):
                padding = Span(" " * (inner - _cells(line)), Role.SPACE)
                rows.append(
                    _Row(
                        [Span(f"{side} ", border), *line, padding, Span(f" {side}", border)],
                        key if n == 0 else None,
                    )
                )

        for paragraph in self._facts(step):
            content(paragraph)
        for k, (field_name, target) in enumerate(self._listed(i)):
            content(_words(self._transition(i, field_name, target)), (i, 1, k))
        rows.append(
            _Row([Span(f"{bottom_left}{across * (self.box_width - 2)}{bottom_right}", border)])
        )
        return rows

    def _facts(self, step: StepDef) -> list[list[_Word]]:
        """What the box says about its step, a paragraph each: what it runs, its
        description, its settings (each kept on one line, such as `max_retries: 2`)."""
        if step.terminal:
            ending = "dead letter" if step.action is Action.RECORD_FAILURE else "succeeded"
            runs = f"ends the run: {ending}"
        elif step.action is not None:
            runs = f"action: {step.action}"
        elif step.is_scout:
            runs = f"scouts: {step.scout_command}"
        else:
            runs = step.command or ""
        facts = [_words([Span(runs, Role.RUNS)])]
        if step.description:
            facts.append(_words([Span(step.description, Role.NOTE)]))
        details = step_details(step)
        if details:
            last = len(details) - 1
            facts.append(
                [[Span(d if n == last else f"{d},", Role.DETAIL)] for n, d in enumerate(details)]
            )
        return facts

    def _transition(self, i: int, field_name: str, target: str) -> list[Span]:
        role = Role(field_name)
        spans = [Span(field_name, role), Span(" → ", role), Span(target, Role.NAME)]
        if self.states[target].terminal:
            spans.append(Span(f" {TERMINAL_MARK}", Role.TAG))
        elif self.index[target] <= i:
            spans.append(Span(f" {LOOP_MARK}", Role.LOOP))
        return spans

    def _connector(self, i: int) -> list[_Row]:
        """The arrow from box `i` to the box below, labelled with its transitions; a blank
        line when box `i` does not lead there."""
        following = self._next(i)
        if following is None:
            return []
        transitions = self.states[self.order[i]].transitions().items()
        labels = [field_name for field_name, target in transitions if target == following]
        if not labels:
            return [_Row([])]
        role = Role(labels[0])
        label = _truncated([Span(f"  │ {', '.join(labels)}", role)], self.box_width)
        return [_Row(label), _Row([Span("  ▼", role)])]

    def _lane_grid(self, rows: list[_Row]) -> list[list[Span]]:
        """The lane cells right of each row: column 0 takes the arrowheads, lane `c`
        runs down column `2c + 2`; a departure row's box border becomes `├`."""
        width = 2 * len(self.lanes) + 1 if self.lanes else 0
        grid = [[Span(" ", Role.SPACE)] * width for _ in rows]
        row_of = {row.key: n for n, row in enumerate(rows) if row.key is not None}
        ends: list[tuple[int, int, Role, bool]] = []
        for c, column in enumerate(self.lanes):
            x = 2 * c + 2
            for lane in column:
                role = Role.LOOP if lane.loops else Role.LANE
                top, bottom = row_of[lane.first], row_of[lane.last]
                marks = {row_of[key] for key in lane.departures} | {row_of[lane.arrival]}
                for y in range(top, bottom + 1):
                    glyph = "╮" if y == top else "╯" if y == bottom else "┤" if y in marks else "│"
                    grid[y][x] = Span(glyph, role)
                ends.append((row_of[lane.arrival], x, role, True))
                for key in lane.departures:
                    y = row_of[key]
                    ends.append((y, x, role, False))
                    rows[y].spans[-1] = Span(rows[y].spans[-1].text[:-1] + "├", role)
        for y, x, role, arrives in ends:
            for across in range(x):
                crossed = grid[y][across].text in "│┼"
                grid[y][across] = Span("┼" if crossed else "─", role)
            if arrives:
                grid[y][0] = Span("◀", role)
        return grid


def _cells(spans: list[Span]) -> int:
    return sum(cell_len(span.text) for span in spans)


def _truncated(spans: list[Span], width: int) -> list[Span]:
    """`spans` cut to `width` cells, the cut marked with `…`."""
    if _cells(spans) <= width:
        return spans
    kept: list[Span] = []
    room = width - 1
    for span in spans:
        text = chop_cells(span.text, room)[0] if cell_len(span.text) > room else span.text
        if text:
            kept.append(Span(text, span.role))
        room -= cell_len(text)
        if room <= 0 or text != span.text:
            break
    return [*kept, Span("…", spans[-1].role if not kept else kept[-1].role)]


def _words(spans: list[Span]) -> list[_Word]:
    """`spans` split at their spaces."""
    words: list[_Word] = [[]]
    for span in spans:
        for n, part in enumerate(span.text.split(" ")):
            if n:
                words.append([])
            if part:
                words[-1].append(Span(part, span.role))
    return [word for word in words if word]


def _wrapped(words: list[_Word], width: int) -> list[list[Span]]:
    """`words` in lines of at most `width` cells, one space between two words on a line;
    a word longer than a line is broken at its own spaces, else cut. The roles stay with
    their words."""
    lines: list[list[Span]] = [[]]
    fitted = [part for w in words for part in (_words(w) if _cells(w) > width else [w])]
    for word in fitted:
        room = width - _cells(lines[-1])
        space = 1 if lines[-1] else 0
        if _cells(word) + space > room and lines[-1]:
            lines.append([])
            space = 0
        if space:
            lines[-1].append(Span(" ", lines[-1][-1].role))
        for piece in word:
            for n, chunk in enumerate(chop_cells(piece.text, width)):
                if n or _cells(lines[-1]) + cell_len(chunk) > width:
                    lines.append([])
                lines[-1].append(Span(chunk, piece.role))
    return [line for line in lines if line] or [[]]


def _joined(spans: list[Span]) -> GraphLine:
    """One line: neighbouring spans of a role merged, trailing spaces dropped."""
    merged: list[Span] = []
    for span in spans:
        if merged and merged[-1].role is span.role:
            merged[-1] = Span(merged[-1].text + span.text, span.role)
        elif span.text:
            merged.append(span)
    while merged and not merged[-1].text.strip():
        merged.pop()
    if merged:
        last = merged[-1]
        merged[-1] = Span(last.text.rstrip(), last.role)
    return tuple(merged)
