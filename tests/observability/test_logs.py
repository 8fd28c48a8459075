"""Structured logs, each case in a process of its own (logging is process-wide): the JSON
file lines with the run's context, secrets and control sequences kept out, one pipeline
for adw's and the standard library's loggers, and one rotating file shared by several
writing processes with no line lost."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

TOKEN = "ghp_" + "a1B2" * 6  # a GitHub token's shape: redacted wherever it appears


def python(code: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        check=False,
    )


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


CONFIGURE = """
import logging, sys
from pathlib import Path
import structlog
from adw_tui.observability.logs import configure_logging
configure_logging(Path(sys.argv[1]), sys.argv[2], level="INFO")
"""


def test_a_line_carries_the_run_context_for_both_kinds_of_logger(tmp_path: Path) -> None:
    done = python(
        CONFIGURE
        + f"""
structlog.contextvars.bind_contextvars(adw_id="c0ffee01", step="plan")
structlog.stdlib.get_logger("adw_tui.runs").info("step.started", attempt=2)
logging.getLogger("aiohttp.access").warning("GET %s from %s", "/status", "{TOKEN}")
structlog.stdlib.get_logger("adw_tui.runs").debug("below the level")
""",
        str(tmp_path),
        "daemon",
    )
    assert done.returncode == 0, done.stderr
    first, second = lines(tmp_path / "adw.log")
    assert list(first)[:4] == ["at", "level", "event", "adw_id"]
    assert first["event"] == "step.started"
    assert (first["adw_id"], first["step"], first["attempt"]) == ("c0ffee01", "plan", 2)
    assert second["logger"] == "aiohttp.access"
    assert second["adw_id"] == "c0ffee01"  # the standard library's line is bound too
    assert second["event"] == "GET /status from [REDACTED]"
    assert TOKEN not in (tmp_path / "adw.log").read_text()
    # A daemon's stderr gets the same JSON lines.
    assert [json.loads(line)["event"] for line in done.stderr.splitlines()] == [
        "step.started",
        "GET /status from [REDACTED]",
    ]


def test_plain_lines_on_a_terminal_carry_no_control_sequences(tmp_path: Path) -> None:
    done = python(
        CONFIGURE
        + """
structlog.stdlib.get_logger("adw_tui.runs").error("run.failed", detail="\\x1b]52;c;aGk=\\x07 boom")
""",
        str(tmp_path),
        "interactive",
    )
    assert done.returncode == 0, done.stderr
    assert "run.failed" in done.stderr
    assert "boom" in done.stderr
    assert "\x1b" not in done.stderr
    assert "\x07" not in done.stderr
    # The file keeps the text exactly, escaped by JSON.
    assert lines(tmp_path / "adw.log")[0]["detail"] == "\x1b]52;c;aGk=\x07 boom"


def test_the_dashboards_process_writes_nothing_on_stderr(tmp_path: Path) -> None:
    done = python(
        CONFIGURE + 'structlog.stdlib.get_logger("x").error("run.failed")\n',
        str(tmp_path),
        "screen",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert lines(tmp_path / "adw.log")[0]["event"] == "run.failed"


def test_the_dashboard_without_a_log_file_still_writes_nothing_on_stderr() -> None:
    """Outside a repository with no file to log to: not even logging's last resort."""
    done = python(
        """
        import logging, structlog
        from adw_tui.observability.logs import configure_logging
        configure_logging(None, "screen")
        structlog.stdlib.get_logger("x").error("database unreachable, reconnecting")
        logging.getLogger("adw_tui.y").warning("listener failed")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == ""


WRITER = """
import sys
from pathlib import Path
import structlog
from adw_tui.observability.logs import configure_logging
configure_logging(Path(sys.argv[1]), "screen", max_bytes=4096, backups=1000)
sys.stdin.readline()  # both writers start together
log = structlog.stdlib.get_logger("adw_tui.runs")
for number in range(int(sys.argv[3])):
    log.info("tick", writer=sys.argv[2], number=number, padding="x" * 100)
"""


def test_processes_sharing_the_file_rotate_it_without_losing_a_line(tmp_path: Path) -> None:
    count = 400
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), name, str(count)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.close()
    for writer in writers:
        assert writer.wait(timeout=60) == 0, writer.stderr.read() if writer.stderr else ""
    files = sorted(tmp_path.glob("adw.log*"))
    rotated = [path for path in files if path.suffix[1:].isdigit()]
    assert len(rotated) > 10  # 2 x 400 lines of ~250 bytes over 4 KB files
    seen = [
        (entry["writer"], entry["number"])
        for path in [*rotated, tmp_path / "adw.log"]
        for entry in lines(path)
    ]
    assert sorted(seen) == sorted((name, n) for name in ("a", "b") for n in range(count))
    assert all(path.stat().st_size <= 4096 + 400 for path in rotated)
