"""Transcript chunks in a real database, and the shipper that copies an agent's file
into them as it grows (whole lines only, the last partial line at the end)."""

import asyncio
from pathlib import Path

from adw_tui.runtime.transcript_ship import TranscriptShipper
from adw_tui.store import Store


async def test_chunks_are_read_in_order_after_a_seq_and_pruned_by_age(store: Store) -> None:
    for seq, lines in enumerate(("a\nb", "c", "d"), start=1):
        await store.transcripts.append(7, seq, lines)
    await store.transcripts.append(8, 1, "other attempt")
    assert await store.transcripts.after(7, 0) == [(1, "a\nb"), (2, "c"), (3, "d")]
    assert await store.transcripts.after(7, 2) == [(3, "d")]
    assert await store.transcripts.prune("0000") == 0
    assert await store.transcripts.prune("9999") == 4
    assert await store.transcripts.after(7, 0) == []


async def test_the_oldest_chunks_past_the_size_kept_are_pruned(store: Store) -> None:
    for seq in range(1, 6):
        await store.transcripts.append(7, seq, str(seq) * 10)
    await store.transcripts.append(8, 1, "x" * 10)  # the newest

    assert await store.transcripts.prune_to_size(35) == 3
    assert await store.transcripts.after(7, 0) == [(4, "4" * 10), (5, "5" * 10)]
    assert await store.transcripts.after(8, 0) == [(1, "x" * 10)]
    assert await store.transcripts.prune_to_size(1_000) == 0


async def test_the_shipper_sends_whole_lines_then_the_rest_at_its_close(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "raw_output.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2}\n{"n": ')
    shipper = TranscriptShipper(store, path, 3, interval_s=0.01)
    shipper.start()
    for _ in range(500):
        if shipped := await store.transcripts.after(3, 0):
            break
        await asyncio.sleep(0.01)
    assert shipped == [(1, '{"n": 1}\n{"n": 2}\n')]
    with path.open("ab") as file:
        file.write(b'3}\n{"n": 4}')
    await shipper.close()  # the loop may have shipped the third line first
    rest = await store.transcripts.after(3, 1)
    assert "".join(lines for _, lines in rest) == '{"n": 3}\n{"n": 4}'
    assert [seq for seq, _ in rest] == list(range(2, 2 + len(rest)))


async def test_secrets_in_a_transcript_are_redacted_on_the_way_in(store: Store) -> None:
    secret = "sk-ant-api03-" + "x" * 40
    await store.transcripts.append(9, 1, f'{{"text": "key {secret}"}}')
    [(_, lines)] = await store.transcripts.after(9, 0)
    assert secret not in lines
