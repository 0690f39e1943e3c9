"""The warehouse application's registration: its kinds, actions, namespace and parameters."""

from __future__ import annotations

from govchain.apps.warehouse.book import NAMESPACE, WarehouseBook
from govchain.apps.warehouse.kind import run_readings, run_wr
from govchain.apps.warehouse.ops import KIND_READINGS, KIND_WR, Op, ReadingsPayload
from govchain.apps.warehouse.orders import FREEZE, UNFREEZE
from govchain.apps.warehouse.params import PARAMS, relations_error
from govchain.apps.warehouse.sensing import raise_offline
from govchain.state.genesis import Genesis
from govchain.state.registry import KindSpec, Registry

WR_KIND = KindSpec(
    kind=KIND_WR,
    payload=Op,
    run=run_wr,
    doc_payload="one warehouse transition (`Op`: intake, issue, pledge, ..., sign, decline)",
    doc_who="the parties each transition names (docs/warehouse.md)",
)
READINGS_KIND = KindSpec(
    kind=KIND_READINGS,
    payload=ReadingsPayload,
    run=run_readings,
    doc_payload="`ReadingsPayload(readings)`: up to 256 device-signed readings",
    doc_who="any gateway (each reading is signed by its device)",
)


def _book(_genesis: Genesis) -> WarehouseBook:
    return WarehouseBook()


def register(registry: Registry) -> None:
    """Add the warehouse's kinds, namespace and parameters to a registry."""
    registry.add_kind(WR_KIND)
    registry.add_kind(READINGS_KIND)
    registry.add_namespace(NAMESPACE, _book)
    for spec in PARAMS:
        registry.add_param(spec)
    registry.add_param_check(relations_error)
    registry.add_action(FREEZE)
    registry.add_action(UNFREEZE)
    registry.add_height_hook(raise_offline)
