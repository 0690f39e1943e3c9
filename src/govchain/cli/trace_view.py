"""A trace answer for people (a table and a tree) and as a Graphviz graph."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from .console import people_console

SHORT_CHARS = 10  # an address or id shortened to its first characters, as git does
TREE_CHILDREN_MAX = 20  # children shown under one account; the rest are counted
PEN_WIDTH_MAX = 8.0


GENESIS_HEX = "00" * 20  # trace/movements.py: GENESIS, where genesis balances come from


def _short(hex_text: str) -> str:
    return "genesis" if hex_text == GENESIS_HEX else hex_text[:SHORT_CHARS]


def _first_arrivals(doc: dict[str, Any]) -> dict[str, list[tuple[str, int, int]]]:
    """parent -> [(child, tainted, height)]: the edge by which the trace first reached each
    account (forward: in final order, money going on; backward: latest first, money's source)."""
    backward = doc["direction"] == "backward"
    reached: set[str] = {s["address"] for s in doc["seeds"]}
    children: dict[str, list[tuple[str, int, int]]] = {}
    for e in reversed(doc["edges"]) if backward else doc["edges"]:
        near, far = (e["to"], e["from"]) if backward else (e["from"], e["to"])
        if far in reached or near not in reached:
            continue  # a seeding edge, or one to an account reached already
        reached.add(far)
        children.setdefault(near, []).append((far, e["tainted"], e["height"]))
    return children


def _label(node: dict[str, Any] | None, address: str, backward: bool) -> str:
    if node is None:
        return _short(address)
    verb = "gave" if backward else "holds"
    words = f"[bold]{_short(address)}[/bold] {verb} {node['tainted']}"
    if node["freezable"]:
        words += f", freezable {node['freezable']}"
    if node["frozen"]:
        words += f", frozen {node['frozen']}"
    if node.get("endpoint"):
        words += f"  [cyan]{escape(node['endpoint'])}[/cyan]"
    if not node.get("followed", True):
        words += "  [yellow](not followed: a limit stopped here)[/yellow]"
    return words


def people_lines(doc: dict[str, Any]) -> None:
    """Print the answer for people: the seeds, where the money is now, the path, the root."""
    console = people_console()
    snap = doc["snapshot"]
    summary = doc["summary"]
    console.print(
        f"[bold]{doc['direction']} trace[/bold] ({doc['policy']}) at checkpoint {snap['height']}: "
        f"{summary['seeded']} seeded, {summary['accounts']} accounts, {summary['edges']} movements"
    )
    for s in doc["seeds"]:
        via = f" via tx {_short(s['tx_id'])}" if s.get("tx_id") else ""
        console.print(f"  seed {escape(s['label'])}: {s['amount']} of {s['address']}{via}")
    nodes = {n["address"]: n for n in doc["nodes"]}
    backward = doc["direction"] == "backward"
    title = "Where the money came from" if backward else "Where the money is now"
    table = Table(title=title, title_justify="left")
    amount = "origin" if backward else "tainted"
    for column in ("address", "hop", amount, "freezable", "frozen", "endpoint"):
        table.add_column(column, justify="left" if column in ("address", "endpoint") else "right")
    holding = sorted(
        (n for n in doc["nodes"] if n["tainted"]), key=lambda n: (-n["tainted"], n["address"])
    )
    for n in holding:
        table.add_row(
            n["address"],
            str(n["hop"]),
            str(n["tainted"]),
            str(n["freezable"]),
            str(n["frozen"]),
            escape(n.get("endpoint") or ""),
        )
    console.print(table)
    children = _first_arrivals(doc)
    tree = Tree("[bold]The path[/bold] (first arrival of taint; amounts tainted)")
    for s in doc["seeds"]:
        root = tree.add(_label(nodes.get(s["address"]), s["address"], backward))
        _grow(root, s["address"], children, nodes, backward)
    console.print(tree)
    freezable = sum(n["freezable"] for n in doc["nodes"])
    frozen = sum(n["frozen"] for n in doc["nodes"])
    console.print(f"freezable in all: {freezable}; frozen already: {frozen}")
    if doc["endpoints"]:
        console.print("ask next: " + ", ".join(doc["endpoints"]))
    for t in doc.get("truncations", []):
        console.print(
            f"[yellow]truncated by {t['limit']}[/yellow]: {t['accounts']} accounts not followed,"
            f" {t['tainted']} tainted reached them"
        )
    console.print(f"result_root {doc['result_root']}")


def _grow(
    branch: Tree,
    address: str,
    children: dict[str, list[tuple[str, int, int]]],
    nodes: dict[str, dict[str, Any]],
    backward: bool,
) -> None:
    """Add address's children under branch, depth first (each account appears once)."""
    kids = children.get(address, [])
    arrow = "<-" if backward else "->"
    for child, tainted, height in kids[:TREE_CHILDREN_MAX]:
        label = f"{tainted} at h{height} {arrow} {_label(nodes.get(child), child, backward)}"
        _grow(branch.add(label), child, children, nodes, backward)
    if len(kids) > TREE_CHILDREN_MAX:
        branch.add(f"... and {len(kids) - TREE_CHILDREN_MAX} more accounts")


def dot_lines(doc: dict[str, Any]) -> list[str]:
    """A Graphviz digraph: accounts (tainted now) and tainted movements, widths by taint."""
    top = max((e["tainted"] for e in doc["edges"]), default=1) or 1
    seeds = {s["address"] for s in doc["seeds"]}
    out = [
        "digraph trace {",
        "  rankdir=LR;",
        f'  label="{doc["direction"]} {doc["policy"]} trace, root {doc["result_root"][:16]}";',
        "  node [shape=box, fontname=monospace];",
    ]
    for n in doc["nodes"]:
        extra = ""
        if n["address"] in seeds:
            extra = ", style=bold"
        elif n.get("endpoint"):
            extra = ", style=filled, fillcolor=lightblue"
        text = f"{_short(n['address'])}\\nhop {n['hop']}, holds {n['tainted']}"
        if n["freezable"]:
            text += f"\\nfreezable {n['freezable']}"
        out.append(f'  "{n["address"]}" [label="{text}"{extra}];')
    for e in doc["edges"]:
        width = 1.0 + (PEN_WIDTH_MAX - 1.0) * e["tainted"] / top
        out.append(
            f'  "{e["from"]}" -> "{e["to"]}" '
            f'[label="{e["tainted"]}/{e["amount"]} h{e["height"]}", penwidth={width:.2f}];'
        )
    out.append("}")
    return out
