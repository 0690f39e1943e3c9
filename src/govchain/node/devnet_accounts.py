"""The devnet's genesis accounts, as its start lists them (anvil's "Available Accounts")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from govchain.node.devnet import REGULATORS, DevnetNode, read_genesis_json
from govchain.node.files import FileError, read_key

BALANCE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    """A key the devnet made, with its address and balance at genesis."""

    name: str  # the key file's stem: faucet, regulator-1, auditor, validator-0
    role: str  # faucet | regulator | auditor | validator
    address: str
    key_file: Path
    genesis_balance: int


def genesis_accounts(root: Path, nodes: list[DevnetNode]) -> list[GenesisAccount]:
    """Faucet, regulators, auditor and validators, in that order (keys missing are skipped)."""
    genesis = read_genesis_json(nodes[0])
    balances = {str(a): int(v) for a, v in genesis.get("balances", [])}
    validators = sum(1 for n in nodes if n.validator)
    wanted = [("faucet", "faucet")]
    wanted += [(f"regulator-{i}", "regulator") for i in range(1, REGULATORS + 1)]
    wanted += [("auditor", "auditor")]
    wanted += [(f"validator-{i}", "validator") for i in range(validators)]
    found = []
    for name, role in wanted:
        path = root / "keys" / f"{name}.key"
        try:
            address = read_key(path).address.hex()
        except FileError:
            continue  # removed by hand: list what is there
        found.append(GenesisAccount(name, role, address, path, balances.get(address, 0)))
    return found


def current_balances(api_url: str, accounts: list[GenesisAccount]) -> dict[str, int | None]:
    """Each account's balance now, asked of one node (None: no answer)."""
    out: dict[str, int | None] = {}
    with httpx.Client(timeout=BALANCE_TIMEOUT_S) as http:
        for a in accounts:
            try:
                reply = http.get(f"{api_url}/v1/accounts/{a.address}")
                out[a.address] = int(reply.json()["balance"]) if reply.status_code == 200 else None
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                out[a.address] = None
    return out
