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
from .output import EXIT_USAGE, CliError, example, finish_final


def _check_id(service_id: str) -> None:
    if not service_id_ok(service_id):
        raise CliError("bad_service_id", "a service id is 1-64 of [a-z0-9_-]", EXIT_USAGE)


@click.group("service", epilog=example("govchain service show shop-1"))
def service() -> None:
    """Business services: records name them, governance suspends them."""


@service.command(
    "register",
    epilog=example("govchain service register shop-1 --key alice.key --wait"),
)
@click.argument("service_id")
@click.option(
    "--writer-role",
    default="",
    help="the role a writer needs besides the owner (default: anyone may write)",
)
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
    """Register SERVICE_ID ([a-z0-9_-], 1-64), owned by the signer.

    The owner may register it again to change the writer role. Records sent
    with `tx record --service SERVICE_ID` belong to it, and governance can
    suspend it.
    """
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
    finish_final(rec, "the service.register transaction", as_json, show)


@service.command("show", epilog=example("govchain service show shop-1"))
@click.argument("service_id")
@node_option
@json_option
@reported
def show_cmd(service_id: str, node_url: str | None, as_json: bool) -> None:
    """A service: owner, writer role, suspension."""
    _check_id(service_id)
    with node_client(node_url) as client:
        show(client.service(service_id), as_json)
