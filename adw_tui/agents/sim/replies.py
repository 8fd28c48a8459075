"""Answers that need no tools: free-form prompts and repository slash-command templates."""

import hashlib
from pathlib import Path

from adw_tui.agents.sim.prompt import CommandCall
from adw_tui.domain.command_templates import expand


def commands_dir(cwd: Path) -> Path:
    return cwd / ".claude" / "commands"


def custom_commands(cwd: Path) -> list[str]:
    """Names of the repository's command templates (`a/b.md` is `a:b`), sorted."""
    root = commands_dir(cwd)
    if not root.is_dir():
        return []
    return sorted(
        ":".join(path.relative_to(root).with_suffix("").parts) for path in root.rglob("*.md")
    )


def template_reply(cwd: Path, call: CommandCall) -> str | None:
    """A reply quoting the first line of `.claude/commands/<name>.md`, None if there is none."""
    path = commands_dir(cwd).joinpath(*call.name.split(":")).with_suffix(".md")
    if not path.is_file():
        return None
    text = expand(path.read_text(encoding="utf-8"), call.args)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f'Ran /{call.name} from {path.relative_to(cwd)}. It begins: "{first}"'


def free_form_reply(prompt: str) -> str:
    """A short, deterministic acknowledgement; free-form prompts change nothing."""
    lines = prompt.strip().splitlines()
    first = lines[0][:80] if lines else ""
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:8]
    return (
        f'Simulated agent: I read your request "{first}" ({len(prompt)} characters, '
        f"digest {digest}). I only act on ADW slash commands, so nothing was changed."
    )
