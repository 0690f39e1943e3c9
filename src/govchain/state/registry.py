"""The registry: every transaction kind, governance action and state namespace, by name.

Execution dispatches through it (no switch on kind or action names), and the
rest is derived from it: the proposal codec (`propose_decoder`), the CLI's
action list and argument forms, the simulator's governance script, the docs'
action table (`actions_table`). Each kind and each action is one module
(state/kinds/, state/actions/) that builds one spec; `state/catalog.py`
registers the built-in ones. An application registers its own the same way:

    registry = catalog.builtin()
    registry.add_namespace("trace", TraceState)        # committed into the state root
    registry.add_action(trace_freeze.SPEC)
    registry.add_param(ParamSpec("trace_hops_max", 6, 1, 64, "hops a trace follows"))
    ledger = Ledger(genesis, registry)

A chain names its applications in its genesis (Genesis.apps); apps/catalog.py
`registry_for(genesis)` builds the registry every node, the simulator and the
API run for it.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

import msgspec

from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction
from govchain.state.accounts import Account
from govchain.state.args import CliOptions, Examples
from govchain.state.audit import AuditKind, AuditLog
from govchain.state.context import Namespace, Stores
from govchain.state.governance import Proposal
from govchain.state.params import CrossCheck, Params, ParamSpec, name_error, specs
from govchain.state.payload_base import ActionArgs, Payload, action_name
from govchain.state.receipts import Outcome, Receipt

if TYPE_CHECKING:
    from govchain.state.genesis import Genesis

A = TypeVar("A", bound=ActionArgs)


# Between the action's name and the why in a no-op's outcome text: "redact: no-op: ...".
NO_OP_WORDS = ": no-op: "


class Effect(NamedTuple):
    """What enacting an action did: its audit kind (NO_OP: nothing) and words."""

    kind: str
    text: str
    subject: str | None = None  # when enactment names the subject (add-filter's new rule id)


def no_op(text: str) -> Effect:
    """An enactment whose target was invalid by then: the proposal passed, nothing changed."""
    return Effect(AuditKind.NO_OP, text)


class ActionDoc(NamedTuple):
    """The docs table's row for an action (docs/governance.md)."""

    arguments: str
    checked: str
    enacted: str


NamespaceFactory = Callable[["Genesis"], Namespace]


class NodeDocs(Protocol):
    """What an action's preview may read of a node: its API's documents (None: not found)."""

    def identity(self, address: bytes) -> dict[str, Any] | None:
        """GET /v1/identities/{address}."""
        ...

    def tx(self, tx_id: bytes) -> dict[str, Any] | None:
        """GET /v1/txs/{id}."""
        ...

    def proposal(self, proposal_id: str) -> dict[str, Any] | None:
        """GET /v1/governance/proposals/{id}."""
        ...

    def service(self, service_id: str) -> dict[str, Any] | None:
        """GET /v1/services/{id}."""
        ...

    def status(self) -> dict[str, Any]:
        """GET /v1/status."""
        ...


@dataclass(frozen=True, slots=True)
class ActionSpec(Generic[A]):
    """One governance action: its arguments, check, subject and effects.

    check runs when the action is proposed (and locally in the CLI); enact at
    the end of the height that passed it; emergency, for an action that may
    be an emergency measure, at the end of the height it was proposed in;
    lapse when such a measure was not ratified. None of them raises on input
    from transactions: a target invalid by then is a no-op with words.
    """

    args: type[A]
    cli_args: tuple[str, ...]  # names of the CLI's positional arguments
    from_cli: Callable[[tuple[str, ...], CliOptions], A]  # ArgError on bad input
    check: Callable[[A, Params], str | None]
    subject: Callable[[A], str]
    enact: Callable[[A, Proposal, int, Stores], Effect]
    doc: ActionDoc
    emergency: Callable[[A, Proposal, int, Stores], str] | None = None
    lapse: Callable[[A, Proposal, int, Stores], str | None] | None = None
    cli_options: frozenset[str] = frozenset()  # CliOptions fields the action reads
    example: Callable[[Examples], A] | None = None  # for the simulator's script
    namespace: tuple[str, NamespaceFactory] | None = None  # state the action keeps
    # The transaction kind the action restricts (set-permission): checked before
    # `check` against the registry's restrictable kinds, an application's included.
    restricts_kind: Callable[[A], str] | None = None
    # Why the action would change nothing now, as the node's documents show it
    # (None: it would); the CLI warns before proposing. The words follow enact's
    # no-ops. The bool: proposed as an emergency measure. None: not previewed.
    preview: Callable[[A, NodeDocs, bool], str | None] | None = None
    # For an action with `emergency`: whether the node's documents show the
    # measure of proposal (id) still in force (`gov show`'s measure).
    in_force: Callable[[A, str, NodeDocs], bool] | None = None

    @property
    def name(self) -> str:
        """The contract's action name (the args struct's tag)."""
        tag = self.args.__struct_config__.tag
        if not isinstance(tag, str):
            raise TypeError(f"{self.args.__name__} needs a tag: the action's name")
        return tag


@dataclass(slots=True)
class TxContext:
    """What a kind's handler may use while one height's transactions execute."""

    height: int
    stores: Stores
    audit: AuditLog  # the ledger's, the one writer; kinds note enforcement on transactions
    registry: Registry
    known: Mapping[bytes, Receipt] | None  # certified receipts of payload-less transactions
    hold_amount_min: int | None  # as in force this height (hot path)


Handler = Callable[[TxContext, Transaction, bytes, Account], Outcome | None]
HeightHook = Callable[[int, Stores], None]


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One transaction kind: its payload and what executing it does.

    committee: a committee member's transactions of this kind pass freezes and
    tier limits, so governance can always act. restrictable: set-permission
    may require a role of its senders. judges_missing_payload: the handler
    itself decides a transaction whose payload is gone (records); for other
    kinds a certified rejection is taken as it is.
    """

    kind: str
    payload: type[Payload]
    run: Handler
    doc_payload: str
    doc_who: str
    committee: bool = False
    restrictable: bool = True
    judges_missing_payload: bool = False
    on_final: Callable[[TxContext, Transaction], None] | None = None  # before any check


# The built-in parameters' names (state/params.py): an application's must differ.
_BUILTIN_PARAMS = frozenset(s.name for s in specs(1, 1))


@dataclass(slots=True)
class Registry:
    """Kinds, actions, namespaces and parameters in registration order (as docs and CLI list).

    params: an application's parameters, besides the built-in ones (state/params.py);
    param_checks: relations between parameter values every set-param keeps;
    apps: the genesis applications this registry was built for (apps/catalog.py
    registry_for), which a replica checks against its genesis. height_hooks: what
    an application does at the end of every height, after governance's decisions
    and in registration order (the warehouse raises its device-offline alarms).
    """

    kinds: dict[str, KindSpec] = field(default_factory=dict)
    actions: dict[str, ActionSpec[Any]] = field(default_factory=dict)
    namespaces: dict[str, NamespaceFactory] = field(default_factory=dict)
    params: dict[str, ParamSpec] = field(default_factory=dict)
    param_checks: list[CrossCheck] = field(default_factory=list)
    apps: tuple[str, ...] = ()
    height_hooks: list[HeightHook] = field(default_factory=list)
    _by_type: dict[type, ActionSpec[Any]] = field(default_factory=dict)
    _decoder: msgspec.msgpack.Decoder[Any] | None = None

    # -- registering ---------------------------------------------------------------
    def add_kind(self, spec: KindSpec) -> None:
        """Register a transaction kind; ValueError when the name is taken."""
        if spec.kind in self.kinds:
            raise ValueError(f"kind {spec.kind!r} is registered already")
        self.kinds[spec.kind] = spec

    def add_action(self, spec: ActionSpec[Any]) -> None:
        """Register a governance action; ValueError when the name is taken."""
        if spec.name in self.actions:
            raise ValueError(f"action {spec.name!r} is registered already")
        if spec.namespace is not None:
            self.add_namespace(*spec.namespace)
        self.actions[spec.name] = spec
        self._by_type[spec.args] = spec
        self._decoder = None

    def add_namespace(self, name: str, factory: NamespaceFactory) -> None:
        """Register a state namespace, made from the genesis for each ledger."""
        if name in self.namespaces:
            raise ValueError(f"namespace {name!r} is registered already")
        self.namespaces[name] = factory

    def add_param(self, spec: ParamSpec) -> None:
        """Register a governance parameter; ValueError when the name is taken or malformed."""
        problem = name_error(spec.name)
        if problem is not None:
            raise ValueError(f"{spec.name!r}: {problem}")
        if spec.name in self.params or spec.name in _BUILTIN_PARAMS:
            raise ValueError(f"parameter {spec.name!r} is registered already")
        if spec.default is not None and spec.check(spec.default) is not None:
            raise ValueError(f"parameter {spec.name!r}: its default lies outside its bounds")
        self.params[spec.name] = spec

    def add_param_check(self, check: CrossCheck) -> None:
        """Register a relation between parameter values (why the values break it, or None)."""
        self.param_checks.append(check)

    def add_height_hook(self, hook: HeightHook) -> None:
        """Register what to do at the end of every height (height, the stores)."""
        self.height_hooks.append(hook)

    # -- reading ---------------------------------------------------------------------
    def spec_of(self, action: ActionArgs) -> ActionSpec[Any]:
        """The spec of an action's arguments (KeyError: not registered here)."""
        return self._by_type[type(action)]

    def spec_for(self, args: type[ActionArgs]) -> ActionSpec[Any]:
        """The spec of an arguments struct (KeyError: not registered here)."""
        return self._by_type[args]

    def argument_error(self, action: ActionArgs, params: Params) -> str | None:
        """Why an action's arguments are bad, or None (checked when it is proposed)."""
        spec = self._by_type.get(type(action))
        if spec is None:
            return f"{action_name(action)} is not an action of this chain"
        if spec.restricts_kind is not None:
            restrictable = self.restrictable_kinds
            if spec.restricts_kind(action) not in restrictable:
                return f"kind must be one of {', '.join(restrictable)}"
        return spec.check(action, params)

    def subject_of(self, action: ActionArgs) -> str:
        """What an action is about, as audit entries name it."""
        return self.spec_of(action).subject(action)

    def emergency_allowed(self, action: ActionArgs) -> bool:
        """True for an action that may be proposed as an emergency measure."""
        spec = self._by_type.get(type(action))
        return spec is not None and spec.emergency is not None

    @property
    def emergency_actions(self) -> tuple[str, ...]:
        """Names of the actions that may be emergency measures."""
        return tuple(n for n, s in self.actions.items() if s.emergency is not None)

    @property
    def committee_kinds(self) -> frozenset[str]:
        """Kinds whose committee senders pass freezes and tier limits."""
        return frozenset(k for k, s in self.kinds.items() if s.committee)

    @property
    def restrictable_kinds(self) -> tuple[str, ...]:
        """Kinds set-permission may restrict."""
        return tuple(k for k, s in self.kinds.items() if s.restrictable)

    def dag_limits(self, limits: DagLimits) -> DagLimits:
        """limits admitting exactly this registry's kinds (a replica's admission runs on them)."""
        return dataclasses.replace(limits, kinds=frozenset(self.kinds))

    def propose_decoder(self) -> msgspec.msgpack.Decoder[Any]:
        """The gov.propose payload decoder over this registry's actions."""
        if self._decoder is None:
            self._decoder = msgspec.msgpack.Decoder(propose_type(self.action_types()))
        return self._decoder

    def action_types(self) -> tuple[type[ActionArgs], ...]:
        """Every action's argument struct, in registration order."""
        return tuple(s.args for s in self.actions.values())

    def kinds_table(self) -> str:
        """The docs' table of transaction kinds (docs/governance.md), one row per kind."""
        rows = ["| Kind | Payload | Who |", "|---|---|---|"]
        rows += [f"| `{k}` | {s.doc_payload} | {s.doc_who} |" for k, s in self.kinds.items()]
        return "\n".join(rows) + "\n"

    def actions_table(self) -> str:
        """The docs' table of actions (docs/governance.md), one row per action."""
        rows = [
            "| Action | Arguments | Checked when proposed | Enacted | Emergency |",
            "|---|---|---|---|---|",
        ]
        for name, s in self.actions.items():
            d = s.doc
            urgent = "yes" if s.emergency is not None else ""
            rows.append(f"| `{name}` | {d.arguments} | {d.checked} | {d.enacted} | {urgent} |")
        return "\n".join(rows) + "\n"


def propose_type(actions: tuple[type[ActionArgs], ...]) -> type[msgspec.Struct]:
    """The gov.propose payload struct over a union of actions (field for field ProposePayload)."""
    union: Any = functools.reduce(operator.or_, actions)
    made = msgspec.defstruct(
        "ProposePayload",
        [("action", union), ("reason", str), ("evidence", bytes), ("emergency", bool, False)],
        bases=(Payload,),
        frozen=True,
    )
    return made
