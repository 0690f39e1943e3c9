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
