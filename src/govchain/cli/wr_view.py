"""Warehouse documents for people: receipts with their history, bins, pledges, sent transitions.

Amounts are shown exactly, in the unit that divides them (1,000 t, 2,500 kg, 142,857,143 g;
¥53,200,000.00; ¥80,000.00/t); `--json` prints the API's documents unchanged instead.
Text from the chain is escaped before it reaches the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from govchain.apps.warehouse.units import FEN_PER_YUAN, G_PER_KG, G_PER_TONNE

from .console import people_console
from .output import columns
from .tx_view import printable

SHORT_HEX_CHARS = 10  # an address or id in a table cell (the JSON has them whole)
PASTE_ID_CHARS = 16  # an id prefix people paste into the next command (8+ are taken)
NONE = "-"


# -- figures ------------------------------------------------------------------------------
def grams_words(grams: Any) -> str:
    """A quantity exactly, in the largest unit that divides it: 1,000 t, 2,500 kg, 123 g."""
    if not isinstance(grams, int) or isinstance(grams, bool):
        return NONE
    if grams != 0 and grams % G_PER_TONNE == 0:
        return f"{grams // G_PER_TONNE:,} t"
    if grams != 0 and grams % G_PER_KG == 0:
        return f"{grams // G_PER_KG:,} kg"
    return f"{grams:,} g"


def fen_words(fen: Any) -> str:
    """Money in yuan with its fen: ¥53,200,000.00."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        return NONE
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def price_words(fen_per_tonne: Any) -> str:
    """A price in yuan a tonne: ¥80,000.00/t."""
    words = fen_words(fen_per_tonne)
    return words if words == NONE else words + "/t"


def ltv_words(ltv: Any, band: Any = None) -> str:
    """An LTV (a fraction, as the API gives it) in percent, with its band."""
    if not isinstance(ltv, int | float) or isinstance(ltv, bool):
        return "not valued"
    words = f"{ltv * 100:.2f}%"
    return f"{words} ({band})" if band else words


def short(value: Any) -> str:
    """A hex address or id cut for a table cell."""
    text = str(value)
    return text if len(text) <= SHORT_HEX_CHARS else text[:SHORT_HEX_CHARS] + "…"


def _text(value: Any) -> str:
    if value is None or value in ("", []):
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_figure(k, v)}" for k, v in value.items())
    return printable(str(value))


def _grid(rows: Sequence[tuple[str, Any]], title: str | None = None) -> None:
    """Label/value lines."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(escape(label), escape(value if isinstance(value, str) else _text(value)))
    console = people_console()
    if title:
        console.print(f"[bold]{escape(printable(title))}[/bold]")
    console.print(grid)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    console = people_console(highlight=False)
    if title:
        console.print(f"[bold]{escape(printable(title))}[/bold]")
    for line in columns(header, [[printable(c) for c in r] for r in rows]):
        console.print(escape(line))


def _figure(key: str, value: Any) -> str:
    """A field in its unit, by the API's naming: *_g grams, *_fen money, fen_per_tonne."""
    if key.endswith("_g"):
        return grams_words(value)
    if key.endswith("_fen"):
        return fen_words(value)
    if key == "fen_per_tonne":
        return price_words(value)
    if key.endswith("_bp") and isinstance(value, int) and not isinstance(value, bool):
        return f"{value // 100}.{value % 100:02d}%"
    return _text(value)


# -- transitions -------------------------------------------------------------------------------
def _status_words(doc: dict[str, Any]) -> str:
    words = str(doc.get("status"))
    if doc.get("checkpoint") is not None:
        words += f" at checkpoint {doc['checkpoint']}"
    receipt = doc.get("receipt") or {}
    why = list(dict.fromkeys(str(receipt[k]) for k in ("rule", "reason") if receipt.get(k)))
    return words + (f" ({'; '.join(why)})" if why else "")


def sent_rows(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The lines show_sent prints: the transaction, what to keep, and the offer's state."""
    rows = [("tx", str(doc.get("tx_id"))), ("status", _status_words(doc))]
    shown = ("signs", "lot", "number", "pledge", "net_g", "commitment", "salt")
    for key in (*shown, "fen_per_tonne", "day"):
        if key in doc:
            rows.append((key.removesuffix("_g"), _figure(key, doc[key])))
    if "salt" in doc:
        rows.append(("", "keep the salt with the lot's documents: it opens the commitment"))
    if "offer" in doc:
        rows.append(("offer", f"{doc['offer']} ({doc.get('offer_status')})"))
        left = doc.get("must_sign")
        if left is None:
            rows.append(("must sign", "unknown until the offer is final (govchain wr offer ID)"))
        elif left:
            rows.append(("must sign", ", ".join(left)))
            paste = doc["offer"][:PASTE_ID_CHARS]
            rows.append(("", f"each runs: govchain wr sign {paste} --key THEIR.key"))
        else:
            rows.append(("must sign", "nobody: no signature is missing"))
    return rows


def show_sent(doc: dict[str, Any]) -> None:
    """A sent transition's result for people."""
    _grid(sent_rows(doc), f"wr {doc.get('transition')}")


# -- receipts ----------------------------------------------------------------------------------
def _lots(lots: Any) -> str:
    return ", ".join(f"{lot.get('lot')} {grams_words(lot.get('grams'))}" for lot in lots or [])


def _encumbrance(e: dict[str, Any]) -> str:
    return (
        f"pledge {e.get('pledge')} to bank {e.get('bank')}: "
        f"{fen_words(e.get('outstanding_fen'))} outstanding, {e.get('status')}"
    )


def receipt_rows(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """A receipt's state as label/value lines."""
    rows = [
        ("status", _text(doc.get("status"))),
        ("holder", _text(doc.get("holder"))),
        ("controller", _text(doc.get("controller"))),
        ("warehouse", _text(doc.get("warehouse"))),
        ("commodity", f"{_text(doc.get('commodity'))}, {grams_words(doc.get('quantity_g'))}"),
        ("lots", _lots(doc.get("lots")) or NONE),
    ]
    encumbrances = doc.get("encumbrances") or []
    rows += [("pledge", _encumbrance(e)) for e in encumbrances] or [("pledge", "none")]
    rows.append(("LTV", ltv_words(doc.get("ltv"), doc.get("band"))))
    if doc.get("frozen_by"):
        rows.append(("frozen by", _text(doc["frozen_by"])))
    if doc.get("enforcement"):
        rows.append(("enforcement", "frozen for enforcement (an uncured call)"))
    if doc.get("parent"):
        rows.append(("parent", _text(doc["parent"])))
    if doc.get("children"):
        rows.append(("children", _text(doc["children"])))
    return rows


def _proof_words(step: dict[str, Any]) -> str:
    proof = step.get("proof")
    if not isinstance(proof, dict):
        return ""
    if proof.get("verified"):
        return f"verified (anchor {proof.get('anchor')})"
    return f"NOT verified: {proof.get('error')}"


def history_rows(history: Sequence[dict[str, Any]]) -> list[list[str]]:
    """One row per version: v, height, transition, tx, readings, prices, signers[, proof]."""
    proofs = any("proof" in step for step in history)
    rows = []
    for step in history:
        readings = " ".join(
            f"{r.get('device')}#{r.get('counter')}" for r in step.get("readings", [])
        )
        prices = " ".join(f"{p.get('source')}@{p.get('day')}" for p in step.get("prices", []))
        row = [
            str(step.get("version")),
            str(step.get("height")),
            str(step.get("transition")),
            short(step.get("tx")),
            readings or NONE,
            prices or NONE,
        ]
        row.append(" ".join(short(s) for s in step.get("signers", [])))
        if proofs:
            row.append(_proof_words(step))  # last: the one column cut to the terminal
        rows.append(row)
    return rows


def show_receipt(doc: dict[str, Any]) -> None:
    """A receipt and its provenance for people."""
    _grid(receipt_rows(doc), f"receipt {doc.get('number')}")
    history = doc.get("history") or []
    header = ["v", "height", "transition", "tx", "readings", "prices", "signers"]
    if any("proof" in step for step in history):
        header.append("proof")
    people_console().print()
    _table(header, history_rows(history), "history")


def show_receipts(doc: dict[str, Any]) -> None:
    """A list of receipts for people."""
    rows = [
        [
            str(r.get("number")),
            str(r.get("status")),
            grams_words(r.get("quantity_g")),
            str(r.get("commodity")),
            short(r.get("holder")),
            short(r.get("controller")),
        ]
        for r in doc.get("receipts", [])
    ]
    _table(["number", "status", "quantity", "commodity", "holder", "controller"], rows)
    _more(doc)


def pledge_rows(doc: dict[str, Any]) -> list[list[str]]:
    """One row per pledge: an id prefix to paste, status, goods, outstanding, parties."""
    return [
        [
            str(p.get("id"))[:PASTE_ID_CHARS],
            str(p.get("status")),
            str(p.get("commodity")),
            grams_words(p.get("quantity_g")),
            fen_words(p.get("outstanding_fen")),
            str(p.get("opened")),
            short(p.get("bank")),
            short(p.get("borrower")),
        ]
        for p in doc.get("pledges", [])
    ]


def show_pledges(doc: dict[str, Any]) -> None:
    """A list of pledges for people."""
    header = ["id", "status", "commodity", "quantity", "outstanding", "opened", "bank", "borrower"]
    _table(header, pledge_rows(doc))
    _more(doc)


def _more(doc: dict[str, Any]) -> None:
    if doc.get("more"):
        people_console(highlight=False).print("... and more (--limit shows more)")


# -- bins, alarms, prices ------------------------------------------------------------------------
def _state(b: dict[str, Any]) -> str:
    return "green" if b.get("green") else "NOT green: " + ", ".join(b.get("problems") or ["?"])


def bin_rows(doc: dict[str, Any]) -> list[list[str]]:
    """One row per bin: its figures and whether goods match receipts."""
    return [
        [
            str(b.get("bin")),
            grams_words(b.get("capacity_g")),
            grams_words(b.get("sensed_g")) if b.get("sensed_g") is not None else "no reading",
            grams_words(b.get("book_g")),
            grams_words(b.get("receipted_g")),
            grams_words(b.get("outgoing_g")),
            "±" + grams_words(b.get("tolerance_g")),
            _state(b),
        ]
        for b in doc.get("bins", [])
    ]


def alarm_words(a: dict[str, Any]) -> str:
    """One alarm on one line: kind, where, when, by which device, why."""
    where = f" on {short(a['warehouse'])}/{a.get('bin')}" if "warehouse" in a else ""
    return (
        f"#{a.get('seq')} {a.get('kind')}{where} at height {a.get('height')} "
        f"by {a.get('device')} (tx {short(a.get('tx'))}): {printable(str(a.get('detail')))}"
    )


def show_bins(doc: dict[str, Any]) -> None:
    """A warehouse's bins for people: the goods-match figures, then alarms in force."""
    header = ["bin", "capacity", "sensed", "book", "receipted", "outgoing", "tolerance", "state"]
    title = f"warehouse {doc.get('warehouse')} at height {doc.get('height')}"
    _table(header, bin_rows(doc), title)
    console = people_console(highlight=False)
    for b in doc.get("bins", []):
        for a in b.get("alarms", []):
            console.print(escape(f"alarm in bin {b.get('bin')}: {alarm_words(a)}"))


def show_alarms(doc: dict[str, Any]) -> None:
    """Alarms in force for people."""
    found = doc.get("alarms", [])
    console = people_console(highlight=False)
    if not found:
        console.print("no alarm in force")
    for a in found:
        console.print(escape(alarm_words(a)))


def show_prices(doc: dict[str, Any]) -> None:
    """The newest prices for people."""
    rows = [
        [
            str(p.get("commodity")),
            str(p.get("source")),
            price_words(p.get("fen_per_tonne")),
            str(p.get("day")),
            str(p.get("height")),
            str(p.get("oracle")),
        ]
        for p in doc.get("prices", [])
    ]
    _table(["commodity", "source", "price", "day", "height", "oracle"], rows)


def show_doc(doc: dict[str, Any], title: str) -> None:
    """A warehouse document (device, lot, pledge, offer) as label/value lines, in units."""
    rows = []
    for key, value in doc.items():
        if key in ("ltv",):
            rows.append((key, ltv_words(value, doc.get("band"))))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            rows += [(key, _text(v)) for v in value]
        else:
            rows.append((key, _figure(key, value)))
    _grid(rows, title)
