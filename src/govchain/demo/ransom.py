"""`govchain demo ransom`: a ransom paid, laundered, traced, watched and frozen on a devnet.

The story (issue 13), played through the node's public API with the SDK:

1. A victim pays a ransom to the attacker.
2. The attacker peels it through five hops (each hop skims a little to a
   cash-out account), splits what is left in two, mixes one half with clean
   money, and deposits at two "exchange" services (registered services: the
   parties an investigator asks next).
3. The investigator traces the ransom forward from its payment (FIFO).
4. The committee watches the accounts that still hold taint (their outgoing
   transfers are final as held: the attacker's next move stops), then
   freezes the freezable amounts at the exchanges as liens citing the trace.
5. The demo reports the ransom, what the trace located, what was frozen,
   what the watch holds in escrow (the attacker's next move, stopped), what
   escaped (ransom - frozen - held), and the result_root.

Amounts and every key are derived from the seed (and the chain id), so a
seed plays the same story on any fresh devnet; the ids, heights and hence
the result_root belong to the chain it ran on. A seed plays once per chain.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govchain.crypto.keys import SigningKey
from govchain.node.files import read_key
from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError
from govchain.state.actions.freeze_amount import FreezeAmount
from govchain.state.actions.watch import WatchAccounts
from govchain.state.payloads import Action

PEEL_HOPS = 5  # issue 13: five hops or more
TRACE_HOPS = 12  # enough for the peel chain, the split, the mix and the deposits
WATCH_HEIGHTS = 10_000  # the watch lasts while the committee decides
FINAL_TIMEOUT_S = 60.0
VOTERS = ("regulator-1", "regulator-2")  # the devnet's committee threshold is 2 of 3


class DemoError(RuntimeError):
    """The demo cannot run here (no devnet keys, a seed played already, a step refused)."""


@dataclass(frozen=True, slots=True)
class Cast:
    """Everyone in the story, with keys derived from the chain and the seed."""

    victim: SigningKey
    attacker: SigningKey
    hops: tuple[SigningKey, ...]  # h1..h5, each one step further from the attacker
    peels: tuple[SigningKey, ...]  # where each hop skims its share (cash-outs)
    split: tuple[SigningKey, SigningKey]
    clean: SigningKey  # an honest payer whose money gets mixed in
    exchanges: tuple[SigningKey, SigningKey]
    accomplice: SigningKey  # where the attacker tries to move money once watched


def cast_of(chain_id: str, seed: int) -> Cast:
    """The story's keys for a chain and a seed."""

    def key(role: str) -> SigningKey:
        return SigningKey.from_label(f"govchain/demo/ransom/{chain_id}/{seed}/{role}")

    return Cast(
        key("victim"),
        key("attacker"),
        tuple(key(f"hop-{i}") for i in range(1, PEEL_HOPS + 1)),
        tuple(key(f"peel-{i}") for i in range(1, PEEL_HOPS + 1)),
        (key("split-a"), key("split-b")),
        key("clean"),
        (key("exchange-a"), key("exchange-b")),
        key("accomplice"),
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """The story's amounts, from the seed alone."""

    ransom: int
    peels: tuple[int, ...]  # what each hop skims
    split_share_pct: int  # of what reaches the split, the part to split-a
    clean_mix: int  # clean money paid into split-a before the taint arrives
    exchange_float: int  # each exchange's own clean money, there before any deposit
    deposit_pct: int  # of split-a's balance, what it deposits at exchange A

    @staticmethod
    def of(seed: int) -> Plan:
        """Amounts drawn from the seed (integers only)."""
        r = random.Random(seed)
        ransom = r.randrange(50_000, 100_001, 1_000)
        peels = tuple(r.randrange(500, 3_001, 100) for _ in range(PEEL_HOPS))
        return Plan(
            ransom,
            peels,
            r.randrange(40, 71),
            r.randrange(5_000, 20_001, 1_000),
            r.randrange(10_000, 50_001, 1_000),
            r.randrange(60, 91),
        )


@dataclass
class Story:
    """A run against one node: the steps so far."""

    client: Client
    faucet: SigningKey
    committee: tuple[SigningKey, ...]
    say: Callable[[str], None]
    steps: list[dict[str, Any]] = field(default_factory=list)

    def pay(
        self, sender: SigningKey, to: SigningKey, amount: int, name: str, expect: str = "executed"
    ) -> dict[str, Any]:
        """A transfer, waited on until final; its record (DemoError unless final as expect)."""
        tx_id = self.client.submit(self.client.transfer(sender, to.address, amount))
        rec = self.client.wait_final(tx_id, FINAL_TIMEOUT_S)
        if expect and rec["status"] != expect:
            receipt = rec.get("receipt") or {}
            raise DemoError(
                f"{name}: {amount} was final as {rec['status']} ({receipt.get('rule')}):"
                " play the demo on a devnet whose governance holds or refuses no such transfer"
            )
        step = {
            "name": name,
            "tx_id": tx_id,
            "from": sender.address.hex(),
            "to": to.address.hex(),
            "amount": amount,
            "status": rec["status"],
        }
        self.steps.append(step)
        self.say(
            f"{name}: {amount} {sender.address.hex()[:10]} -> {to.address.hex()[:10]}"
            f" ({rec['status']})"
        )
        return rec

    def decide(self, action: Action, reason: str, name: str, **facts: Any) -> str:
        """Propose with the first regulator, vote with the second; the proposal's id."""
        first, second = self.committee
        out = self.client.submit_proposal(first, action, reason, timeout_s=FINAL_TIMEOUT_S)
        pid = str(out["proposal_id"])
        if out["status"] == "open":
            out = self.client.submit_vote(second, pid, True, timeout_s=FINAL_TIMEOUT_S)
        p = self.client.proposal(pid)
        step = {"name": name, "proposal_id": pid, "status": p["status"], **facts}
        if p.get("outcome"):
            step["outcome"] = p["outcome"]
        self.steps.append(step)
        self.say(f"{name}: proposal {pid[:10]} {p['status']}: {p.get('outcome') or ''}")
        if p["status"] != "passed":
            raise DemoError(f"{name}: proposal {pid} is {p['status']}, not passed")
        return pid


def _keys(devnet: Path) -> tuple[SigningKey, tuple[SigningKey, ...]]:
    """The faucet's and the voting regulators' keys from a devnet directory."""
    keys = devnet / "keys"
    try:
        faucet = read_key(keys / "faucet.key")
        committee = tuple(read_key(keys / f"{name}.key") for name in VOTERS)
    except (OSError, ValueError) as exc:
        raise DemoError(
            f"the demo needs the devnet's faucet and regulator keys under {keys}: {exc}"
        ) from None
    return faucet, committee


def play(client: Client, devnet: Path, seed: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Play the story on the devnet the client talks to; the contract's summary document."""
    faucet, committee = _keys(devnet)
    chain_id = str(client.status()["chain_id"])
    cast, plan = cast_of(chain_id, seed), Plan.of(seed)
    if int(client.account(cast.victim.address)["nonce"]) > 0:
        raise DemoError(f"seed {seed} was played on this chain already: give another --seed")
    story = Story(client, faucet, committee, say)
    case = f"ransom-{seed}"

    # The world before: a victim with savings, an honest payer, two exchanges with float.
    story.pay(faucet, cast.victim, plan.ransom + 1_000, "fund victim")
    story.pay(faucet, cast.clean, plan.clean_mix, "fund honest payer")
    for i, exchange in enumerate(cast.exchanges):
        story.pay(faucet, exchange, plan.exchange_float, f"exchange {'ab'[i]} float")
    for i, exchange in enumerate(cast.exchanges):
        service = f"exchange-{'ab'[i]}-{seed}"
        tx_id = client.submit(client.register_service(exchange, service))
        rec = client.wait_final(tx_id, FINAL_TIMEOUT_S)
        story.steps.append({"name": "register exchange", "service": service,
                            "tx_id": tx_id, "status": rec["status"]})  # fmt: skip

    # 1. The ransom.
    paid = story.pay(cast.victim, cast.attacker, plan.ransom, "ransom")
    # 2. The peel chain: each hop skims a share to a cash-out, passes the rest on.
    holder, left = cast.attacker, plan.ransom
    for i, (hop, peel, skim) in enumerate(zip(cast.hops, cast.peels, plan.peels, strict=True)):
        story.pay(holder, peel, skim, f"peel {i + 1}")
        left -= skim
        story.pay(holder, hop, left, f"hop {i + 1}")
        holder = hop
    to_a = left * plan.split_share_pct // 100
    story.pay(cast.clean, cast.split[0], plan.clean_mix, "clean money into split a")
    story.pay(holder, cast.split[0], to_a, "split a")
    story.pay(holder, cast.split[1], left - to_a, "split b")
    deposit_a = (plan.clean_mix + to_a) * plan.deposit_pct // 100
    story.pay(cast.split[0], cast.exchanges[0], deposit_a, "deposit at exchange a")
    story.pay(cast.split[1], cast.exchanges[1], left - to_a, "deposit at exchange b")

    # 3. The investigator traces the ransom from its payment.
    found = client.trace(
        cast.attacker.address, tx_id=str(paid["tx_id"]), hops=TRACE_HOPS, label=case
    )
    root = str(found["result_root"])
    holding = [n for n in found["nodes"] if n["tainted"] > 0 and n["followed"]]
    traced = sum(n["tainted"] for n in holding)
    story.steps.append({"name": "trace", "result_root": root, "traced": traced,
                        "accounts": len(found["nodes"]), "endpoints": found["endpoints"],
                        "truncated": found["truncated"]})  # fmt: skip
    say(f"trace: {traced} of {plan.ransom} located in {len(holding)} accounts, root {root}")

    # 4. Watch every account that still holds taint, then see the next move stop.
    until = int(client.status()["height"]) + WATCH_HEIGHTS
    watched = sorted(bytes.fromhex(n["address"]) for n in holding)
    story.decide(
        WatchAccounts(tuple(watched), until, case),
        f"{case}: hold the traced accounts while the committee decides",
        "watch",
        addresses=[a.hex() for a in watched],
        until=until,
    )
    left_a = int(client.account(cast.split[0].address)["balance"])
    held = 0
    if left_a > 0:
        moved = story.pay(
            cast.split[0], cast.accomplice, left_a, "attacker moves split a's rest", expect=""
        )
        if moved["status"] == "held":  # the watch stopped it: in escrow, not gone
            tainted_a = next(n["tainted"] for n in holding if n["address"] == moved["sender"])
            held = min(left_a, int(tainted_a))
    # Then freeze, at each exchange, what the trace says a lien may claim.
    case_bytes = base64.b64decode(found["case_b64"])
    frozen = 0
    for n in found["nodes"]:
        if n["address"] not in found["endpoints"] or n["freezable"] <= 0:
            continue
        address, amount = bytes.fromhex(n["address"]), int(n["freezable"])
        story.decide(
            FreezeAmount(address, amount, bytes.fromhex(root), b"", case_bytes, case),
            f"{case}: freeze the traced deposit at {n['endpoint']}",
            "freeze-amount",
            address=n["address"],
            amount=amount,
            endpoint=n["endpoint"],
        )
        frozen += int(client.account(address).get("frozen_amount", 0))
    doc = {
        "ransom": plan.ransom,
        "traced": traced,
        "frozen": frozen,
        "held": held,
        "escaped": plan.ransom - frozen - held,
        "result_root": root,
        "case": case,
        "seed": seed,
        "steps": story.steps,
    }
    say(f"frozen {frozen} and held {held} of {plan.ransom}; escaped {doc['escaped']}")
    return doc


def run(client: Client, devnet: Path, seed: int, say: Callable[[str], None]) -> dict[str, Any]:
    """play(), with the SDK's refusals as DemoError."""
    try:
        return play(client, devnet, seed, say)
    except SdkError as exc:
        raise DemoError(f"the node refused a step: {exc.code}: {exc}") from None
