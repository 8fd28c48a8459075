"""The simulated agent's tools (Write, Read, Bash): real effects in the cwd, real-looking results.

Each method performs one tool call through the session, so every call is an assistant
tool_use line, the actual effect, and a user tool_result line with the metadata
Claude Code attaches (`tool_use_result`).
"""

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from adw_tui.agents.sim.session import Session, ToolOutcome
from adw_tui.agents.sim.stream import WRITE_NOTE

BASH_TIMEOUT_S = 600
# Test runners print their wall time ("1 passed in 0.03s"); masked so output is repeatable.
_DURATION = re.compile(r"\bin \d+(?:\.\d+)?s\b")


def structured_patch(old: str, new: str) -> list[dict[str, Any]]:
    """Hunks in the shape of the `structuredPatch` Claude Code reports for edits."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    hunks: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(3):
        first, last = group[0], group[-1]
        lines: list[str] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [" " + line for line in old_lines[i1:i2]]
                continue
            lines += ["-" + line for line in old_lines[i1:i2]]
            lines += ["+" + line for line in new_lines[j1:j2]]
        hunks.append(
            {
                "oldStart": first[1] + 1,
                "oldLines": last[2] - first[1],
                "newStart": first[3] + 1,
                "newLines": last[4] - first[3],
                "lines": lines,
            }
        )
    return hunks


def _numbered(text: str) -> str:
    """File text as the Read tool shows it to the model: `cat -n` style."""
    return "\n".join(f"{i:>6}\t{line}" for i, line in enumerate(text.splitlines(), start=1))


class Toolbox:
    """The tools, bound to a session and a working directory."""

    def __init__(self, session: Session, cwd: Path) -> None:
        self.session = session
        self.cwd = cwd

    def path(self, name: str | Path) -> Path:
        """`name` resolved against the cwd (absolute names stay as they are)."""
        return self.cwd / name

    def write(self, name: str | Path, content: str, *, preface: str | None = None) -> Path:
        """Write a file (creating folders), as the Write tool does."""
        target = self.path(name)

        def run() -> ToolOutcome:
            original = target.read_text(encoding="utf-8") if target.is_file() else None
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            if original is None:
                text = f"File created successfully at: {target} {WRITE_NOTE}"
            else:
                text = f"The file {target} has been updated successfully. {WRITE_NOTE}"
            return ToolOutcome(
                content=text,
                metadata={
                    "type": "create" if original is None else "update",
                    "filePath": str(target),
                    "content": content,
                    "structuredPatch": structured_patch(original or "", content)
                    if original is not None
                    else [],
                    "originalFile": original,
                    "userModified": False,
                },
            )

        self.session.tool(
            "Write", {"file_path": str(target), "content": content}, run, preface=preface
        )
        return target

    def read(self, name: str | Path, *, preface: str | None = None) -> str | None:
        """Read a file as the Read tool does; None (and an error result) when it is missing."""
        target = self.path(name)

        def run() -> ToolOutcome:
            if not target.is_file():
                message = "File does not exist."
                return ToolOutcome(
                    content=f"<tool_use_error>{message}</tool_use_error>",
                    is_error=True,
                    metadata=f"Error: {message}",
                )
            text = target.read_text(encoding="utf-8")
            count = len(text.splitlines())
            return ToolOutcome(
                content=_numbered(text),
                metadata={
                    "type": "text",
                    "file": {
                        "filePath": str(target),
                        "content": text,
                        "numLines": count,
                        "startLine": 1,
                        "totalLines": count,
                    },
                },
            )

        outcome = self.session.tool("Read", {"file_path": str(target)}, run, preface=preface)
        return None if outcome.is_error else target.read_text(encoding="utf-8")

    def bash(self, command: str, description: str, *, preface: str | None = None) -> ToolOutcome:
        """Run a shell command in the cwd for real, as the Bash tool does.

        `python` on the PATH is this interpreter, and no bytecode is written, so running
        a repository's tests leaves nothing behind for a later `git add -A`.
        """

        def run() -> ToolOutcome:
            env = dict(os.environ)
            env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            try:
                done = subprocess.run(
                    ["/bin/sh", "-c", command],
                    cwd=self.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=BASH_TIMEOUT_S,
                    check=False,
                )
                stdout, stderr, code = done.stdout, done.stderr, done.returncode
            except subprocess.TimeoutExpired:
                stdout, stderr, code = "", f"Command timed out after {BASH_TIMEOUT_S}s", 124
            stdout, stderr = _DURATION.sub("in 0.00s", stdout), _DURATION.sub("in 0.00s", stderr)
            output = "\n".join(part.rstrip("\n") for part in (stdout, stderr) if part.strip())
            return ToolOutcome(
                content=output if code == 0 else f"Exit code {code}\n{output}",
                is_error=code != 0,
                metadata={
                    "stdout": stdout,
                    "stderr": stderr,
                    "interrupted": False,
                    "isImage": False,
                },
                exit_code=code,
            )

        return self.session.tool(
            "Bash", {"command": command, "description": description}, run, preface=preface
        )
