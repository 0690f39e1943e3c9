"""The peer network: frames, the handshake, and PeerNetwork over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import random
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.net import peers
from govchain.net.framing import FRAME_BYTES_MAX, FrameDecoder, FrameError, encode_frame
from govchain.net.handshake import (
    HANDSHAKE_FRAME_BYTES_MAX,
    Handshake,
    HandshakeError,
    Hello,
    Proof,
    Reason,
)
from govchain.net.peers import NetLimits, PeerNetwork
from govchain.node.devnet import free_port_base

HOST = "127.0.0.1"
CHAIN = "govchain-test"
GENESIS = hashlib.sha256(b"test genesis").digest()
LIMITS = NetLimits(
    frame_bytes_max=64 * 1024,
    send_queue_max=64,
    handshake_timeout_s=1.0,
    dial_backoff_s_min=0.01,
    dial_backoff_s_max=0.1,
)
SCENARIO_TIMEOUT_S = 10.0
POLL_S = 0.005


# -- helpers ---------------------------------------------------------------
def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one async scenario under a timeout on a fresh event loop."""

    async def main() -> None:
        async with asyncio.timeout(SCENARIO_TIMEOUT_S):
            await scenario()

    asyncio.run(main())


async def eventually(check: Callable[[], bool], timeout_s: float = 3.0) -> None:
    """Poll check until it holds; fail after timeout_s."""
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(POLL_S)


def free_port() -> int:
    """A port nothing listens on, leased to this process (no other test is handed it)."""
    return free_port_base(1)


class Node:
    """A PeerNetwork with an inbox."""

    def __init__(self, net: PeerNetwork, inbox: list[tuple[str, bytes]]) -> None:
        self.net = net
        self.inbox = inbox

    @property
    def id(self) -> str:
        node_id: str = self.net.node_id
        return node_id

    @property
    def addr(self) -> tuple[str, int]:
        addr: tuple[str, int] | None = self.net.listen_address
        assert addr is not None
        return addr

    def got(self, sender: Node, data: bytes) -> bool:
        return (sender.id, data) in self.inbox


class Cluster:
    """Starts networks; stops every one of them on exit, whatever happened."""

    def __init__(self) -> None:
        self.nets: list[PeerNetwork] = []

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for net in self.nets:
            await net.stop()

    async def node(
        self,
        label: str,
        dial: list[tuple[str, int]] | None = None,
        *,
        port: int = 0,
        chain: str = CHAIN,
        genesis: bytes = GENESIS,
        limits: NetLimits = LIMITS,
        on_message: Callable[[str, bytes], Awaitable[None] | None] | None = None,
        reserved: Callable[[str], bool] | None = None,
    ) -> Node:
        inbox: list[tuple[str, bytes]] = []

        def record(peer: str, data: bytes) -> None:
            inbox.append((peer, data))

        net = PeerNetwork(
            SigningKey.from_label(label),
            chain,
            genesis,
            (HOST, port),
            dial or [],
            on_message or record,
            limits,
            reserved=reserved,
        )
        self.nets.append(net)
        await net.start()
        return Node(net, inbox)


def connected(*pairs: tuple[Node, Node]) -> Callable[[], bool]:
    return lambda: all(b.id in a.net.peers() and a.id in b.net.peers() for a, b in pairs)


async def raw_connect(node: Node) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*node.addr)


async def read_until_eof(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(3.0):
        return await reader.read(-1)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def raw_peer(
    node: Node, label: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, FrameDecoder]:
    """A hand-driven peer that completes the handshake with node as initiator."""
    reader, writer = await raw_connect(node)
    hs = Handshake(SigningKey.from_label(label), CHAIN, GENESIS, bytes(32), initiator=True)
    decoder = FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX)

    async def frame() -> bytes:
        while (f := decoder.next_frame()) is None:
            decoder.push(await reader.read(4096))
        return f

    writer.write(encode_frame(hs.hello_bytes))
    writer.write(encode_frame(hs.receive_hello(await frame())))
    hs.receive_proof(await frame())
    return reader, writer, decoder


# -- framing ----------------------------------------------------------------
def test_encode_frame_layout_and_limits() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert FRAME_BYTES_MAX == 4 * 1024 * 1024
    with pytest.raises(FrameError):
        encode_frame(b"")
    with pytest.raises(FrameError):
        encode_frame(b"x" * 11, frame_bytes_max=10)
    assert encode_frame(b"x" * 10, frame_bytes_max=10)[:4] == b"\x00\x00\x00\x0a"


def test_decoder_refuses_zero_and_oversized_lengths_and_stays_failed() -> None:
    dec = FrameDecoder(frame_bytes_max=10)
    assert dec.feed(b"\x00\x00\x00\x02hi\x00\x00") == [b"hi"]
    with pytest.raises(FrameError):
        dec.feed(b"\x00\x0b")  # a header of 11 > 10, refused before any payload
    with pytest.raises(FrameError):
        dec.feed(b"more")
    with pytest.raises(FrameError):
        FrameDecoder().feed(b"\x00\x00\x00\x00")


def test_decoder_limit_can_be_raised_between_frames() -> None:
    dec = FrameDecoder(frame_bytes_max=4)
    dec.push(encode_frame(b"tiny") + encode_frame(b"much longer"))
    assert dec.next_frame() == b"tiny"
    dec.frame_bytes_max = 100
    assert dec.next_frame() == b"much longer"
    assert dec.next_frame() is None
    assert dec.buffered == 0


@settings(max_examples=300)
@given(
    payloads=st.lists(st.binary(min_size=1, max_size=300), max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=20),
)
def test_decoder_returns_the_payloads_for_any_chunking(
    payloads: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    points = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    dec = FrameDecoder(frame_bytes_max=300)
    out: list[bytes] = []
    for start, end in itertools.pairwise(points):
        out += dec.feed(stream[start:end])
    assert out == payloads
    assert dec.buffered == 0


@settings(max_examples=300)
@given(chunks=st.lists(st.binary(max_size=200), max_size=10))
def test_decoder_on_random_bytes_returns_frames_or_raises_frame_error(
    chunks: list[bytes],
) -> None:
    dec = FrameDecoder(frame_bytes_max=64)
    failed = False
    for chunk in chunks:
        try:
            frames = dec.feed(chunk)
        except FrameError:
            failed = True
            continue
        assert not failed, "a failed decoder must keep failing"
        assert all(1 <= len(f) <= 64 for f in frames)


# -- handshake ---------------------------------------------------------------
def pair(
    a: str = "alice",
    b: str = "bob",
    *,
    chain_b: str = CHAIN,
    genesis_b: bytes = GENESIS,
) -> tuple[Handshake, Handshake]:
    init = Handshake(SigningKey.from_label(a), CHAIN, GENESIS, b"\x01" * 32, initiator=True)
    resp = Handshake(SigningKey.from_label(b), chain_b, genesis_b, b"\x02" * 32, initiator=False)
    return init, resp


def test_handshake_completes_and_names_both_keys() -> None:
    init, resp = pair()
    proof_i = init.receive_hello(resp.hello_bytes)
    proof_r = resp.receive_hello(init.hello_bytes)
    assert proof_i != proof_r
    assert init.receive_proof(proof_r) == SigningKey.from_label("bob").public_key
    assert resp.receive_proof(proof_i) == SigningKey.from_label("alice").public_key
    with pytest.raises(HandshakeError) as err:
        init.receive_proof(proof_r)
    assert err.value.reason is Reason.OUT_OF_ORDER


def expect(reason: Reason, step: Callable[[], object]) -> None:
    with pytest.raises(HandshakeError) as err:
        step()
    assert err.value.reason is reason, err.value


def test_handshake_refuses_other_chain_genesis_and_version() -> None:
    init, resp = pair(chain_b="other-chain")
    expect(Reason.CHAIN_ID, lambda: init.receive_hello(resp.hello_bytes))
    expect(Reason.CHAIN_ID, lambda: resp.receive_hello(init.hello_bytes))
    init, resp = pair(genesis_b=bytes(32))
    expect(Reason.GENESIS, lambda: init.receive_hello(resp.hello_bytes))
    h = resp.hello
    future = encode(Hello(2, h.chain_id, h.genesis_hash, h.node_key, h.nonce))
    init, resp = pair()
    expect(Reason.VERSION, lambda: init.receive_hello(future))


def test_handshake_refuses_own_key_bad_key_and_bad_signature() -> None:
    init, resp = pair("alice", "alice")
    expect(Reason.SELF, lambda: init.receive_hello(resp.hello_bytes))
    init, resp = pair()
    h = resp.hello
    identity = b"\x01" + bytes(31)  # a small-order point
    expect(
        Reason.BAD_KEY,
        lambda: init.receive_hello(encode(Hello(1, CHAIN, GENESIS, identity, h.nonce))),
    )
    init.receive_hello(resp.hello_bytes)
    proof = resp.receive_hello(init.hello_bytes)
    sig = msgspec.msgpack.decode(proof, type=Proof).signature
    forged = encode(Proof(sig[:-1] + bytes([sig[-1] ^ 1])))
    expect(Reason.BAD_SIGNATURE, lambda: init.receive_proof(forged))
    # A proof made for another connection (other nonce) does not verify here.
    init2, resp2 = pair()
    init2.receive_hello(resp2.hello_bytes)
    expect(Reason.OUT_OF_ORDER, lambda: init2.receive_hello(resp2.hello_bytes))
    other = Handshake(SigningKey.from_label("alice"), CHAIN, GENESIS, b"\x07" * 32, initiator=True)
    replayed = resp2.receive_hello(other.hello_bytes)
    expect(Reason.BAD_SIGNATURE, lambda: init2.receive_proof(replayed))


def test_handshake_refuses_malformed_and_non_canonical_bytes() -> None:
    init, resp = pair()
    expect(Reason.MALFORMED, lambda: init.receive_hello(b"\xc1"))
    expect(Reason.MALFORMED, lambda: init.receive_hello(encode(Proof(b"x" * 64))))
    wide = resp.hello_bytes[:1] + b"\xcc" + resp.hello_bytes[1:]  # version 1 as a uint8
    assert msgspec.msgpack.decode(wide, type=Hello) == resp.hello
    expect(Reason.NON_CANONICAL, lambda: init.receive_hello(wide))
    h = resp.hello
    short_nonce = encode(Hello(1, CHAIN, GENESIS, h.node_key, b"n"))
    expect(Reason.MALFORMED, lambda: init.receive_hello(short_nonce))
    init.receive_hello(resp.hello_bytes)
    expect(Reason.MALFORMED, lambda: init.receive_proof(encode(Proof(b"short"))))


def mutate(data: bytes, draw: st.DataObject) -> bytes:
    """data changed by one drawn edit (never left equal)."""
    kind = draw.draw(st.sampled_from(["flip", "truncate", "insert", "replace"]))
    i = draw.draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ draw.draw(st.integers(1, 255))]) + data[i + 1 :]
    if kind == "truncate":
        return data[:i]
    if kind == "insert":
        return data[:i] + draw.draw(st.binary(min_size=1, max_size=8)) + data[i:]
    out = data[:i] + draw.draw(st.binary(min_size=1, max_size=8)) + data[i + 1 :]
    return out if out != data else data + b"\x00"


@settings(max_examples=300, deadline=None)
@given(data=st.data(), target=st.sampled_from(["hello", "proof"]))
def test_mutated_handshake_bytes_only_raise_handshake_error(
    data: st.DataObject, target: str
) -> None:
    init, resp = pair()
    hello = resp.hello_bytes
    if target == "hello":
        hello = mutate(hello, data)
    try:
        proof_i = init.receive_hello(hello)
    except HandshakeError:
        return
    proof_r = resp.receive_hello(init.hello_bytes)
    if target == "proof":
        proof_r = mutate(proof_r, data)
    # A mutated Hello may still parse, but then the transcripts differ.
    with pytest.raises(HandshakeError):
        init.receive_proof(proof_r)
    if target == "hello":
        with pytest.raises(HandshakeError):
            resp.receive_proof(proof_i)


# -- the network ----------------------------------------------------------------
def test_two_networks_exchange_messages_both_ways() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            b = await c.node("b")
            a = await c.node("a", dial=[b.addr])
            await eventually(connected((a, b)))
            assert a.net.peers() == [b.id]
            assert a.net.send(b.id, b"ping")
            assert b.net.send(a.id, b"pong")
            await eventually(lambda: b.got(a, b"ping") and a.got(b, b"pong"))
            big = random.Random(1).randbytes(LIMITS.frame_bytes_max)
            assert a.net.send(b.id, big)
            await eventually(lambda: b.got(a, big))
            assert a.net.stats["connections"] == b.net.stats["connections"] == 1
            assert a.net.stats["bytes_out"] >= len(big)

    run(scenario)


def test_three_networks_broadcast_reaches_all() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            a = await c.node("a")
            b = await c.node("b", dial=[a.addr])
            n3 = await c.node("c", dial=[a.addr, b.addr])
            nodes = [a, b, n3]
            await eventually(connected((a, b), (a, n3), (b, n3)))
            for n in nodes:
                assert n.net.broadcast(b"hi from " + n.id.encode()) == 2
            await eventually(
                lambda: all(
                    n.got(m, b"hi from " + m.id.encode())
                    for n in nodes
                    for m in nodes
                    if m is not n
                )
            )

    run(scenario)


def test_mutual_dialling_keeps_one_connection_per_peer() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            pa, pb = free_port(), free_port()
            a = await c.node("a", dial=[(HOST, pb)], port=pa)
            b = await c.node("b", dial=[(HOST, pa)], port=pb)
            await eventually(connected((a, b)))
            # Both dial loops rest on the one connection kept: nothing churns any more.
            await eventually(lambda: a.net.settled() and b.net.settled())
            assert a.net.peers() == [b.id] and b.net.peers() == [a.id]
            assert a.net.stats["connections"] <= 2 and b.net.stats["connections"] <= 2
            assert a.net.send(b.id, b"x") and b.net.send(a.id, b"y")
            await eventually(lambda: b.got(a, b"x") and a.got(b, b"y"))

    run(scenario)


@pytest.mark.parametrize(
    ("chain", "genesis"),
    [("other-chain", GENESIS), (CHAIN, hashlib.sha256(b"other genesis").digest())],
    ids=["chain_id", "genesis_hash"],
)
def test_a_node_of_another_chain_is_refused(chain: str, genesis: bytes) -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            a = await c.node("a")
            stranger = await c.node("s", dial=[a.addr], chain=chain, genesis=genesis)
            await eventually(lambda: a.net.stats["handshake_failures"] >= 2)
            assert stranger.net.stats["handshake_failures"] >= 2  # it keeps trying, refused
            assert a.net.peers() == [] and stranger.net.peers() == []
            assert a.net.stats["connections"] == 0

    run(scenario)


def test_a_node_that_dials_itself_stops_dialling_it() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            port = free_port()
            a = await c.node("a", dial=[(HOST, port)], port=port)
            # Both ends of the self-connection refuse it; then the dial loop ends.
            await eventually(lambda: a.net.stats["handshake_failures"] >= 2)
            await eventually(a.net.settled)  # the dial loop ended: no attempt is left
            assert a.net.stats["handshake_failures"] == 2
            assert a.net.peers() == []

    run(scenario)


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"\x00\x00\x00\x00",
        (HANDSHAKE_FRAME_BYTES_MAX + 1).to_bytes(4, "big") + b"x" * 64,
        encode_frame(b"\x93\x01\x02\x03"),
        *(random.Random(seed).randbytes(256) for seed in range(3)),
    ],
    ids=["http", "zero", "big-hello", "not-a-hello", "random0", "random1", "random2"],
)
def test_garbage_closes_only_that_connection(garbage: bytes) -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            a = await c.node("a")
            b = await c.node("b", dial=[a.addr])
            await eventually(connected((a, b)))
            reader, writer = await raw_connect(a)
            writer.write(garbage)
            try:
                await read_until_eof(reader)  # a's Hello, then a closes
            finally:
                await close(writer)
            s = a.net.stats
            assert s["frame_errors"] + s["handshake_failures"] == 1
            assert a.net.peers() == [b.id]
            assert a.net.send(b.id, b"still") and b.net.send(a.id, b"here")
            await eventually(lambda: b.got(a, b"still") and a.got(b, b"here"))

    run(scenario)


def test_an_oversized_frame_after_the_handshake_closes_the_connection() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            a = await c.node("a")
            b = await c.node("b", dial=[a.addr])
            reader, writer, _ = await raw_peer(a, "mallory")
            mallory = SigningKey.from_label("mallory").public_key.hex()
            try:
                await eventually(lambda: mallory in a.net.peers())
                await eventually(connected((a, b)))
                writer.write(encode_frame(b"fine"))
                await eventually(lambda: (mallory, b"fine") in a.inbox)
                writer.write((LIMITS.frame_bytes_max + 1).to_bytes(4, "big") + b"x" * 100)
                await read_until_eof(reader)
            finally:
                await close(writer)
            assert a.net.stats["frame_errors"] == 1
            assert a.net.peers() == [b.id]
            assert b.net.send(a.id, b"ok")
            await eventually(lambda: a.got(b, b"ok"))

    run(scenario)


def test_on_message_raising_closes_that_connection_and_the_dialer_returns() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            inbox: list[tuple[str, bytes]] = []

            def picky(peer: str, data: bytes) -> None:
                if data == b"boom":
                    raise ValueError("cannot decode")
                inbox.append((peer, data))

            a = await c.node("a", on_message=picky)
            b = await c.node("b", dial=[a.addr])
            n3 = await c.node("c", dial=[a.addr])
            await eventually(connected((a, b), (a, n3)))
            assert b.net.send(a.id, b"boom")
            await eventually(lambda: a.net.stats["message_errors"] == 1)
            assert n3.net.send(a.id, b"unaffected")
            await eventually(lambda: (n3.id, b"unaffected") in inbox)
            await eventually(lambda: a.net.stats["connections"] == 3)  # b redialled
            await eventually(connected((a, b)))
            assert b.net.send(a.id, b"again")
            await eventually(lambda: (b.id, b"again") in inbox)

    run(scenario)


def test_a_restarted_peer_is_redialled() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            b = await c.node("b")
            a = await c.node("a", dial=[b.addr])
            await eventually(connected((a, b)))
            await b.net.stop()
            await eventually(lambda: a.net.peers() == [])
            failed = a.net.stats["dial_failures"]
            await eventually(lambda: a.net.stats["dial_failures"] >= failed + 2)  # nobody there
            b2 = await c.node("b", port=b.addr[1])
            await eventually(connected((a, b2)))
            assert a.net.send(b2.id, b"welcome back")
            await eventually(lambda: b2.got(a, b"welcome back"))
            assert a.net.stats["connections"] == 2

    run(scenario)


def test_urgent_frames_overtake_queued_bulk_frames() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            limits = NetLimits(send_queue_max=4, dial_backoff_s_min=0.01, dial_backoff_s_max=0.1)
            b = await c.node("b")
            a = await c.node("a", dial=[b.addr], limits=limits)
            await eventually(connected((a, b)))
            # No await in between: all of these wait in the lanes together.
            bulk = [a.net.send(b.id, b"gossip%d" % i) for i in range(5)]
            urgent = [a.net.send(b.id, b"vote%d" % i, urgent=True) for i in range(5)]
            assert bulk == urgent == [True] * 4 + [False]  # each lane has its own bound
            await eventually(lambda: len(b.inbox) == 8)
            assert [d for _, d in b.inbox] == [
                *(b"vote%d" % i for i in range(4)),
                *(b"gossip%d" % i for i in range(4)),
            ]

    run(scenario)


def test_a_busy_receiver_stops_reading_until_it_is_ready() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            gate = asyncio.get_running_loop().create_future()
            seen: list[bytes] = []

            def slow(peer: str, data: bytes) -> Awaitable[None] | None:
                seen.append(data)
                return gate if data == b"first" else None

            b = await c.node("b", on_message=slow)
            a = await c.node("a", dial=[b.addr])
            n3 = await c.node("c", dial=[b.addr])
            await eventually(connected((a, b), (n3, b)))
            a.net.send(b.id, b"first")
            a.net.send(b.id, b"second")
            await eventually(lambda: b.net.paused(a.id))  # a's connection waits on the receiver
            # Sent after a's two frames, c's message gets through on its own connection.
            n3.net.send(b.id, b"other")
            await eventually(lambda: b"other" in seen)
            assert seen == [b"first", b"other"] and b.net.paused(a.id)
            gate.set_result(None)
            await eventually(lambda: seen == [b"first", b"other", b"second"])
            assert not b.net.paused(a.id)

    run(scenario)


def test_send_is_bounded_and_never_blocks() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            limits = NetLimits(
                send_queue_max=4,
                handshake_timeout_s=1.0,
                dial_backoff_s_min=0.01,
                dial_backoff_s_max=0.1,
            )
            b = await c.node("b")
            a = await c.node("a", dial=[b.addr], limits=limits)
            await eventually(connected((a, b)))
            results = [a.net.send(b.id, b"m%d" % i) for i in range(10)]  # no await between
            assert results == [True] * 4 + [False] * 6
            assert a.net.stats["dropped_sends"] == 6
            await eventually(lambda: len(b.inbox) == 4)
            assert [d for _, d in b.inbox] == [b"m0", b"m1", b"m2", b"m3"]
            assert not a.net.send("00" * 32, b"nobody")
            with pytest.raises(FrameError):
                a.net.send(b.id, b"")
            with pytest.raises(FrameError):
                a.net.broadcast(b"x" * (limits.frame_bytes_max + 1))

    run(scenario)


def test_inbound_connections_beyond_the_limit_are_refused() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            limits = NetLimits(connections_max=1, handshake_timeout_s=1.0)
            a = await c.node("a", limits=limits)
            b = await c.node("b", dial=[a.addr])
            await eventually(connected((a, b)))
            n3 = await c.node("c", dial=[a.addr])
            await eventually(lambda: a.net.stats["inbound_refused"] >= 1)
            assert a.net.peers() == [b.id] and n3.net.peers() == []

    run(scenario)


def test_a_silent_peer_is_closed_after_the_read_timeout() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            limits = NetLimits(
                read_timeout_s=0.05,
                handshake_timeout_s=1.0,
                dial_backoff_s_min=0.01,
                dial_backoff_s_max=0.1,
            )
            a = await c.node("a", limits=limits)
            b = await c.node("b", dial=[a.addr])
            await eventually(connected((a, b)))
            await eventually(lambda: a.net.stats["read_timeouts"] >= 1)
            await eventually(lambda: a.net.stats["connections"] >= 2)  # b dialled again

    run(scenario)


def test_stop_closes_everything_and_leaves_no_task() -> None:
    async def scenario() -> None:
        c = Cluster()
        async with c:
            a = await c.node("a")
            b = await c.node("b", dial=[a.addr])
            n3 = await c.node("c", dial=[a.addr, b.addr, (HOST, free_port())])
            await eventually(connected((a, b), (a, n3), (b, n3)))
            raw_reader, raw_writer = await raw_connect(a)  # a half-open handshake
        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert all(net.peers() == [] for net in c.nets)
        assert await read_until_eof(raw_reader) != b""  # a's Hello, then EOF
        await close(raw_writer)
        await a.net.stop()  # idempotent

    run(scenario)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="backoff"):
        NetLimits(dial_backoff_s_min=2.0, dial_backoff_s_max=1.0)
    with pytest.raises(ValueError, match="frame_bytes_max"):
        NetLimits(frame_bytes_max=10)
    with pytest.raises(ValueError):
        NetLimits(send_queue_max=0)
    with pytest.raises(ValueError, match="genesis"):
        PeerNetwork(SigningKey.from_label("a"), CHAIN, b"short", (HOST, 0), [], print)


def test_bans_end_on_the_network_clock_and_the_oldest_ends_first_when_full() -> None:
    now_s = [100.0]
    net = PeerNetwork(
        SigningKey.from_label("bans"),
        CHAIN,
        GENESIS,
        (HOST, 0),
        [],
        print,
        NetLimits(blame_ban_s=60.0, bans_max=3),
        clock=lambda: now_s[0],
    )
    peers_ = [f"{i:064x}" for i in range(5)]
    for p in peers_:
        net.ban(p, "test")
    assert [net.banned(p) for p in peers_] == [False, False, True, True, True]
    now_s[0] += 59.9
    assert net.banned(peers_[4])
    now_s[0] += 0.1  # sixty seconds on the network's clock, none on the wall's
    assert not any(net.banned(p) for p in peers_)
    assert net.stats["bans"] == 5


def test_run_uses_an_event_loop_and_returns_the_result() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert peers.run(answer()) == 42
