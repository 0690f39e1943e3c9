"""set-filing-number TEXT: the chain's filing number (备案号).

Under the 2019 CAC rules on blockchain information services, a service
provider files with the Cyberspace Administration and shows the filing number
it receives (e.g. "京网信备11010519000001号") on its service. The number is
chain state: set by a governance decision, audited, committed into the state
root, and shown by `govchain status`. Until set it is the empty string.

The whole action lives here: its arguments, its check, its namespace of
state, its effect; the registry derives the rest (codec, CLI, docs table).
"""

from __future__ import annotations

from typing import Any

from govchain.state.args import CliOptions, Examples, only
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, no_op

NAMESPACE = "filing"
FILING_NUMBER_BYTES_MAX = 128  # UTF-8; real numbers are some 30 bytes
AUDIT_KIND = "filing_number_set"
SUBJECT = "chain:filing-number"


class SetFilingNumber(ActionArgs, frozen=True, tag="set-filing-number"):
    """Set the chain's filing number (non-empty printable text)."""

    text: str


class FilingNumber:
    """The namespace: the number in force and the proposal that set it."""

    def __init__(self, text: str = "", proposal: str = "") -> None:
        self.text = text
        self.proposal = proposal
        self._changed = False

    def set(self, text: str, proposal_id: str) -> None:
        """Put a checked number in force."""
        self.text, self.proposal, self._changed = text, proposal_id, True

    def writes(self) -> list[Any] | None:
        """[text, proposal] when it changed this height (state hash), else None."""
        if not self._changed:
            return None
        self._changed = False
        return [self.text, self.proposal]

    def status(self) -> dict[str, Any]:
        """`filing_number` for `govchain status` (null until set, as CONTRACT.md says)."""
        return {"filing_number": self.text or None}


def filing_number_error(text: str) -> str | None:
    """Why text cannot be the filing number, or None."""
    if not 1 <= len(text.encode()) <= FILING_NUMBER_BYTES_MAX:
        return f"the filing number must be 1..{FILING_NUMBER_BYTES_MAX} bytes of UTF-8"
    if not text.isprintable():
        return "the filing number must be printable text"
    return None


def _check(a: SetFilingNumber, _params: Params) -> str | None:
    return filing_number_error(a.text)


def _enact(a: SetFilingNumber, p: Proposal, _height: int, st: Stores) -> Effect:
    filing = st.namespace(NAMESPACE, FilingNumber)
    if filing.text == a.text:
        return no_op(f"the filing number is {a.text} already")
    filing.set(a.text, p.id)
    return Effect(AUDIT_KIND, f"filing number {a.text}")


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> SetFilingNumber:
    return SetFilingNumber(only(args))


def _example(ex: Examples) -> SetFilingNumber:
    return SetFilingNumber(ex.text)


SPEC = ActionSpec(
    args=SetFilingNumber,
    cli_args=("TEXT",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda _a: SUBJECT,
    enact=_enact,
    example=_example,
    namespace=(NAMESPACE, lambda _genesis: FilingNumber()),
    doc=ActionDoc(
        "text, e.g. `京网信备11010519000001号`",
        f"1..{FILING_NUMBER_BYTES_MAX} bytes, printable",
        "the chain's filing number (2019 CAC blockchain rules), shown by `govchain status`",
    ),
)
