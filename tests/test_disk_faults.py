"""Disk faults on a real devnet of 4 validator processes (issue 16, part 3): one victim.

- A full disk: the victim's data/ is a small tmpfs, filled under load. It stops
  with one line naming its store and exits 1; its store stays whole; with space
  freed it restarts and catches up.
- A torn write-ahead log: after a kill -9 under load, the -wal's tail is cut
  mid-frame (or garbage appended): the victim restarts from its last durable
  commit and catches up.

Figures (time to detect, catch-up time, store size) are printed, never asserted.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import time
from pathlib import Path

from diskkit import (
    VICTIM,
    Load,
    caught_up,
    exited,
    fill,
    log_since,
    log_size,
    page_size,
    stopping,
    tmpfs,
)
from govchain.node.files import read_genesis
from govchain.storage.integrity import check_store
from procs import Cluster, wait_until

TMPFS_BYTES = 24 << 20  # room for the victim's store and a full WAL (4 MB), no more
STOP_S = 90.0


def test_a_full_disk_stops_the_node_with_one_line_and_it_catches_up_once_freed(
    tmp_path: Path,
) -> None:
    data = tmp_path / "nodes" / f"validator-{VICTIM}" / "data"  # the victim's, made first
    with tmpfs(data, TMPFS_BYTES), stopping(Cluster(tmp_path)) as c:
        store = c.nodes[VICTIM].home / "data" / "store.sqlite"
        assert store.parent == data
        c.start_all()
        with Load(c):
            wait_until(lambda: c.height(VICTIM) >= 3, 30, "a few checkpoints on the victim")
            mark = log_size(c, VICTIM)
            filler = fill(data)
            t0 = time.monotonic()
            status = exited(c, VICTIM, STOP_S)
            detect_s = time.monotonic() - t0
            out = log_since(c, VICTIM, mark)
            assert status == 1, out[-3000:]
            assert f"disk full writing {store}" in out, out[-3000:]
            assert "Traceback" not in out, out[-3000:]
            assert out.rstrip().splitlines()[-1] == next(
                line for line in out.splitlines() if line.startswith("error: disk full")
            )
            filler.unlink()  # space freed
            genesis = read_genesis(c.nodes[VICTIM].home / "genesis.json")
            report = check_store(store, genesis, full=True)  # whole: what it saved, and no more
            size = store.stat().st_size
            c.start(VICTIM)
            c.wait_api(VICTIM)
            catch_up_s = caught_up(c, VICTIM)
    print(
        f"\nfull disk: stopped {detect_s:.1f} s after the disk filled; store {size} bytes, "
        f"whole ({report.summary()}); caught up {catch_up_s:.1f} s after its restart"
    )


WAL_HEADER_BYTES = 32
WAL_FRAME_HEADER_BYTES = 24
GARBAGE_BYTES = 10_000
SEED = 1616


def _recovered(store: Path, scratch: Path) -> tuple[int, int]:
    """(executed height, stored vertices) SQLite recovers from store and its -wal (copies)."""
    scratch.mkdir()
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{store}{suffix}", scratch / f"store.sqlite{suffix}")
    conn = sqlite3.connect(scratch / "store.sqlite")
    try:
        height = conn.execute("SELECT coalesce(max(height), 0) FROM executed").fetchone()[0]
        return int(height), int(conn.execute("SELECT count(*) FROM vertices").fetchone()[0])
    finally:
        conn.close()


def test_a_torn_or_garbled_wal_after_kill9_recovers_to_its_last_whole_commit(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    lines: list[str] = []
    with stopping(Cluster(tmp_path / "net")) as c:
        store = c.nodes[VICTIM].home / "data" / "store.sqlite"
        wal = Path(f"{store}-wal")
        c.start_all()
        with Load(c):
            for fault in ("tail cut mid-frame", "garbage appended"):
                wait_until(lambda: c.height(VICTIM) >= c.height(0), 30, "the victim to keep up")
                time.sleep(1.0)  # under load: commits in the WAL
                killed_at = c.height(VICTIM)
                c.kill9(VICTIM)
                size = wal.stat().st_size
                page = page_size(store) if store.stat().st_size else 4096
                frame = WAL_FRAME_HEADER_BYTES + page
                assert size >= WAL_HEADER_BYTES + 2 * frame, f"the WAL holds {size} bytes"
                whole = _recovered(store, tmp_path / f"whole-{len(lines)}")
                if fault == "tail cut mid-frame":
                    os.truncate(wal, size - frame // 2)
                else:
                    with wal.open("ab") as f:
                        f.write(rng.randbytes(GARBAGE_BYTES))
                recovered, vertices = _recovered(store, tmp_path / f"copy-{len(lines)}")
                # killed_at is read before the SIGKILL: the store may hold a height more;
                # or one less, since /v1/status reports the executed height in memory,
                # which runs ahead of its group commit by up to GROUP_COMMIT_MS (a
                # height's receipts are served from the store, only once committed).
                assert 1 <= recovered <= whole[0] and whole[0] >= killed_at - 1
                assert vertices <= whole[1]
                if fault == "garbage appended":  # frames after a bad checksum are ignored
                    assert (recovered, vertices) == whole
                c.start(VICTIM)
                c.wait_api(VICTIM)  # started: its store passed the check and replayed
                assert c.height(VICTIM) >= recovered
                took = caught_up(c, VICTIM)
                lines.append(
                    f"{fault}: killed at height {killed_at}, WAL {size} bytes, recovered to "
                    f"height {recovered} ({whole[1] - vertices} of {whole[1]} vertices lost "
                    f"to the fault); caught up {took:.1f} s after the API answered"
                )
    print("\ntorn WAL: " + "; ".join(lines))
