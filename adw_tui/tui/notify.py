"""Toasts of plain text: the one way the dashboard notifies.

A toast often quotes what the dashboard did not write (an error naming a file, an agent's
message, a theme's name), so its text is made terminal-safe and never read as markup:
`[/b]` in a name would otherwise end the app with a markup error.
"""

from textual.dom import DOMNode
from textual.notifications import SeverityLevel

from adw_tui.domain.sanitize import terminal_safe


def notify_text(
    node: DOMNode,
    message: str,
    *,
    title: str = "",
    severity: SeverityLevel = "information",
    timeout: float | None = None,
) -> None:
    """Show `message` (under `title`) as a toast of `node`'s app, as plain text."""
    node.app.notify(
        terminal_safe(message),
        title=terminal_safe(title),
        severity=severity,
        timeout=timeout,
        markup=False,
    )
