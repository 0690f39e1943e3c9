"""/metrics of a live node: what `promtool check metrics` accepts, every metric with help
text, latencies as histograms in seconds (issue 16, part 5).

promtool comes with Debian's prometheus package (.ci/run installs it when missing).
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from govprocs import GovNet
from procs import cluster
from toolkit import tool

PROMTOOL_TIMEOUT_S = 60.0


def test_a_live_node_s_metrics_pass_promtool_with_help_and_base_units(tmp_path: Path) -> None:
    promtool = tool("promtool", "apt-get install prometheus (Debian ships promtool in it)")
    with cluster(tmp_path / "net", validators=1) as c:
        net = GovNet(c, tmp_path)
        # One submission made final through node 0: its latency histograms have a sample.
        done = net.transfer(net.key("faucet"), secrets.token_hex(20), 1)
        assert done["status"] == "executed", done
        r = c.http.get(c.url(0) + "/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=r.content,
        capture_output=True,
        timeout=PROMTOOL_TIMEOUT_S,
        check=False,
    )
    # promtool says nothing about metrics it finds well made.
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, b"", b""), checked
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert all(f.documentation for f in families.values())
    ours = {name: f for name, f in families.items() if name.startswith("govchain_")}
    for name in ("govchain_finality_latency_seconds", "govchain_replicate_latency_seconds"):
        assert ours[name].type == "histogram"
        count = next(s.value for s in ours[name].samples if s.name == name + "_count")
        assert count >= 1, name
    assert not [n for n in ours if n.endswith(("_ms", "_milliseconds"))]
    assert ours["govchain_submitted"].type == "counter"
    assert ours["govchain_height"].samples[0].value >= 1
