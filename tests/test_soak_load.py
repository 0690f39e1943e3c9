"""The soak's loader against fake nodes: one promise per transaction, retries elsewhere, stops.

Each fake node is a small HTTP server on 127.0.0.1 (port 0, the kernel's pick)
that answers POST /v1/txs/batch with one document per transaction, as a node
does; the script of answers is shared by the fake nodes, so a test can say
"refuse each transaction the first time anyone sees it".
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec

from govchain.crypto.keys import SigningKey
from govchain.dag.tx import WIRE_DECODER, Transaction, build, decode_body, tx_id
from govchain.node.soak_load import FinalityWatch, Load, clock

Answer = Callable[[bytes, str], dict[str, Any]]  # (tx id, node name) -> the item's document
BATCH_DECODER = msgspec.msgpack.Decoder(list[bytes])


class FakeNodes:
    """Servers answering batches by `answer`; every transaction each one was sent, in order."""

    def __init__(self, answer: Answer, names: list[str]) -> None:
        self.answer = answer
        self.names = names
        self.sent: list[tuple[str, bytes, int]] = []  # (node, tx id, nonce)
        self.servers: list[asyncio.Server] = []
        self.urls: dict[str, str] = {}
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        for name in self.names:
            server = await asyncio.start_server(
                functools.partial(self._serve, name), "127.0.0.1", 0
            )
            self.servers.append(server)
            port = server.sockets[0].getsockname()[1]
            self.urls[name] = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        for w in self.writers:
            w.close()
        for server in self.servers:
            await server.wait_closed()

    async def _serve(self, name: str, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.writers.add(w)
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                results = []
                for wire in BATCH_DECODER.decode(await r.readexactly(length)):
                    raw = WIRE_DECODER.decode(wire)
                    i = tx_id(raw.body, raw.signature)
                    self.sent.append((name, i, decode_body(raw.body).nonce))
                    results.append({"tx_id": i.hex(), **self.answer(i, name)})
                body = msgspec.json.encode({"results": results})
                w.write(
                    b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the loader closed its connection
        finally:
            w.close()
            self.writers.discard(w)


def run_load(answer: Answer, senders: int, seconds: float) -> tuple[Load, FakeNodes]:
    """A load of `senders` chains for `seconds` against three fake nodes."""
    keys = [SigningKey.from_label(f"sender {i}") for i in range(senders)]
    fakes = FakeNodes(answer, ["n0", "n1", "n2"])

    async def go() -> Load:
        await fakes.start()
        try:
            watch = FinalityWatch(clock)
            load = Load(fakes.urls, "soak-test", b"\x00" * 32, keys, 200.0, random.Random(1), watch)
            await load.run(clock() + seconds, 2.0, 5.0)
            return load
        finally:
            await fakes.stop()

    return asyncio.run(go()), fakes


def test_each_transaction_is_sent_again_elsewhere_until_promised_then_never_again() -> None:
    seen: Counter[bytes] = Counter()

    def refuse_first(i: bytes, _node: str) -> dict[str, Any]:
        seen[i] += 1
        if seen[i] == 1:
            return {"error": {"code": "not_replicated", "message": "again"}}
        return {"status": "pending"}

    load, fakes = run_load(refuse_first, senders=3, seconds=0.6)
    sends: dict[bytes, list[str]] = {}
    for node, i, _nonce in fakes.sent:
        sends.setdefault(i, []).append(node)
    assert load.promises and set(load.promises) == set(sends)
    for i, nodes in sends.items():
        assert len(nodes) == 2, nodes  # refused once, promised on the second send, then never
        assert nodes[0] != nodes[1]  # the second send went to another node
        assert load.promises[i].node == nodes[1]
    assert load.tally.submitted == len(sends) == load.tally.resubmissions
    assert load.tally.refused_503 == Counter({"not_replicated": len(sends)})
    # Each sender's chain: nonce n+1 was first sent only after nonce n was promised.
    by_sender: dict[int, list[int]] = {}
    for p in sorted(load.promises.values(), key=lambda p: p.promised_s):
        by_sender.setdefault(p.sender, []).append(p.nonce)
    assert all(n == list(range(len(n))) for n in by_sender.values()), by_sender
    for p in load.promises.values():
        if p.nonce > 0:
            before = next(
                q for q in load.promises.values() if (q.sender, q.nonce) == (p.sender, p.nonce - 1)
            )
            assert p.first_sent_s >= before.promised_s


def test_a_transaction_refused_for_good_stops_its_sender() -> None:
    load, fakes = run_load(
        lambda _i, _n: {"error": {"code": "expired", "message": "too late"}}, senders=3, seconds=0.3
    )
    assert load.promises == {}
    assert len(fakes.sent) == 3 and {nonce for _, _, nonce in fakes.sent} == {0}
    assert load.tally.refused_for_good == Counter({"422 expired": 3})


def test_submit_sends_a_transaction_of_its_own_through_the_same_promises() -> None:
    key = SigningKey.from_label("regulator")
    fakes = FakeNodes(lambda _i, _n: {"status": "pending"}, ["n0", "n1"])

    async def go() -> tuple[bool, Load, Transaction]:
        await fakes.start()
        try:
            load = Load(
                fakes.urls,
                "soak-test",
                b"\x00" * 32,
                [],
                10.0,
                random.Random(2),
                FinalityWatch(clock),
            )
            running = asyncio.create_task(load.run(clock() + 0.5, 1.0, 5.0))
            assert load.chains == []  # no senders: only what submit() hands over goes
            tx = build(
                key,
                chain_id="soak-test",
                kind="gov.vote",
                nonce=0,
                parents=[b"\x00" * 32],
                valid_until=100,
                payload=b"\x01",
                stamp_bits_min=8,
            )
            promised = await load.submit(tx, -1)
            await running
            return promised, load, tx
        finally:
            await fakes.stop()

    promised, load, tx = asyncio.run(go())
    assert promised
    assert load.promises[tx.id].sender == -1 and load.promises[tx.id].kind == "gov.vote"
    assert [i for _, i, _ in fakes.sent] == [tx.id]
