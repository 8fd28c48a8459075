"""`adw` with `--db` (or `ADW_DB`) a PostgreSQL DSN: the commands work on the server, and
a DSN that cannot be used is one line naming it masked, never a traceback or the
password."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adw_tui.domain.models import RunStatus
from adw_tui.store import Store
from adw_tui.store.location import PostgresDsn
from tests.postgres import PASSWORD, free_port

pytestmark = pytest.mark.postgresql


def adw(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("ADW_")}
    return subprocess.run(
        [sys.executable, "-m", "adw_tui", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=cwd,
        env={**clean, "COLUMNS": "200", **env},
    )


async def test_the_commands_read_and_steer_runs_on_the_server(
    postgres_dsn: PostgresDsn, tmp_path: Path
) -> None:
    async with await Store.open(postgres_dsn) as store:
        await store.create_run({"adw_id": "0000abcd"}, workflow="plan", actor="test", issue="7")
        await store.set_status("0000abcd", RunStatus.FAILED, actor="test")

    listed = adw(tmp_path, "runs", ADW_DB=postgres_dsn.url)
    assert listed.returncode == 0, listed.stderr
    assert "0000abcd" in listed.stdout

    shown = adw(tmp_path, "--db", postgres_dsn.url, "show", "0000abcd")
    assert shown.returncode == 0, shown.stderr
    assert "plan" in shown.stdout

    kpis = adw(tmp_path, "--db", postgres_dsn.url, "kpis")
    assert kpis.returncode == 0, kpis.stderr

    doctor = adw(tmp_path, "--db", postgres_dsn.url, "doctor")
    assert f"{postgres_dsn.masked}: schema v" in doctor.stdout
    for done in (listed, shown, kpis, doctor):
        assert PASSWORD not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("port", "says"),
    [
        ("free", "cannot reach PostgreSQL at postgresql://adw:***@127.0.0.1:"),
        ("notaport", "malformed PostgreSQL DSN postgresql://adw:***@127.0.0.1:notaport/adw"),
    ],
)
def test_a_dsn_that_cannot_be_used_is_one_line(port: str, says: str, tmp_path: Path) -> None:
    dsn = f"postgresql://adw:{PASSWORD}@127.0.0.1:{free_port() if port == 'free' else port}/adw"
    done = adw(tmp_path, "--db", dsn, "runs")
    assert done.returncode == 1
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
