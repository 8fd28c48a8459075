"""An agent's events as readable rich markup, shared by the CLI transcript and the TUI.

Pure rendering (rich markup strings, no console, no textual) so that `adw prompt` and
the dashboard's agent panes show a call the same way and neither imports the other.
"""

from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentResult
from adw_tui.domain.sanitize import safe_markup

_STYLES = {
    AgentEventKind.INIT: ("dim", "●"),
    AgentEventKind.THINKING: ("dim italic", "…"),
    AgentEventKind.TOOL_USE: ("cyan", "→"),
    AgentEventKind.RETRY: ("yellow", "↻"),
    AgentEventKind.RATE_LIMIT: ("yellow", "⏳"),
    AgentEventKind.ERROR: ("bold red", "✖"),
}


def event_markup(event: AgentEvent) -> str | None:
    """One event as rich markup, or None for events a person need not see."""
    kind = event.kind
    if kind is AgentEventKind.TEXT:
        return safe_markup(event.text)
    if kind is AgentEventKind.TOOL_USE:
        return f"[cyan]→ {safe_markup(event.tool_name or '?')}[/] {safe_markup(event.text)}"
    if kind is AgentEventKind.TOOL_RESULT:
        style, label = ("red", "error") if event.is_error else ("dim", "ok")
        lines = event.text.splitlines() or [""]
        indented = "\n    ".join(safe_markup(line) for line in lines)
        return f"[{style}]  ← {label}: {indented}[/]"
    if kind is AgentEventKind.UNKNOWN:
        return f"[yellow]? {safe_markup(event.text)}[/]" if event.is_error else None
    if kind is AgentEventKind.RESULT:
        return None
    style, mark = _STYLES[kind]
    return f"[{style}]{mark} {safe_markup(event.text)}[/]"


def result_markup(result: AgentResult, run_dir: str) -> str:
    """The closing line: what it cost and where its files are, or why it failed."""
    if result.success:
        turns = f"{result.num_turns} turn{'' if result.num_turns == 1 else 's'}"
        return (
            f"[bold green]✔ done[/] in {turns} · ${result.cost_usd:.4f} · "
            f"{result.duration_ms / 1000:.1f}s · session {result.session_id or '-'} · "
            f"{safe_markup(run_dir)}"
        )
    kind = "transient" if result.transient else "permanent"
    lines = [
        f"[bold red]✖ failed[/]: {result.error_class} ({kind}): "
        f"{safe_markup(result.error_message)}",
        f"[dim]output in {safe_markup(run_dir)}[/]",
    ]
    if result.stderr_tail.strip():
        tail = result.stderr_tail.strip().splitlines()[-5:]
        lines.append("[dim]stderr:\n  " + "\n  ".join(safe_markup(line) for line in tail) + "[/]")
    return "\n".join(lines)
