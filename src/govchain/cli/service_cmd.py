"""`govchain service`: register a business service, show one."""

from __future__ import annotations

from pathlib import Path

import click

from govchain.state.identities import role_ok
from govchain.state.services import service_id_ok

from .common import (
    json_option,
    key_option,
    load_key,
    node_client,
    node_option,
    reported,
    show,
    timeout_option,
    wait_option,
)
from .output import EXIT_USAGE, CliError


def _check_id(service_id: str) -> None:
    if not service_id_ok(service_id):
        raise CliError("bad_service_id", "a service id is 1-64 of [a-z0-9_-]", EXIT_USAGE)


@click.group("service")
def service() -> None:
    """Business services: records name them, governance suspends them."""


@service.command("register")
@click.argument("service_id")
@click.option("--writer-role", default="", help="the role a writer needs (default: anyone)")
@key_option
@node_option
@wait_option
@timeout_option
@json_option
@reported
def register(
    service_id: str,
    writer_role: str,
    key_path: Path | None,
    node_url: str | None,
    wait: bool,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Register SERVICE_ID, owned by the signer (the owner may register again to change it)."""
    _check_id(service_id)
    if writer_role and not role_ok(writer_role):
        raise CliError("bad_role", "a role is 1-32 of [a-z0-9_-]", EXIT_USAGE)
    key = load_key(key_path)
    with node_client(node_url) as client:
        tx_id = client.submit(client.register_service(key, service_id, writer_role))
        if not wait:
            show({"tx_id": tx_id, "status": "pending", "service_id": service_id}, as_json)
            return
        rec = client.wait_final(tx_id, timeout_s)
        if rec["status"] != "executed":
            receipt = rec.get("receipt") or {}
            raise CliError(
                "tx_rejected",
                f"service.register {tx_id} was final as {rec['status']} "
                f"({receipt.get('rule')}): {receipt.get('reason')}",
            )
        show(rec, as_json, "final")


@service.command("show")
@click.argument("service_id")
@node_option
@json_option
@reported
def show_cmd(service_id: str, node_url: str | None, as_json: bool) -> None:
    """A service: owner, writer role, suspension."""
    _check_id(service_id)
    with node_client(node_url) as client:
        show(client.service(service_id), as_json)
