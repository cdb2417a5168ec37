"""``necessity vocab``: the case vocabulary (facts/), as a table to read or as JSON."""

from __future__ import annotations

import click

from engine.presenting.console import OK, Console


def vocab(console: Console, *, fmt: str, fields: bool) -> int:
    """Every predicate a case file becomes, or (``fields``) every case-file field and the predicates it becomes."""
    from engine.presenting.render import dumps
    from facts.schema import field_table, vocabulary_table

    if fields:
        rows = field_table()
        if fmt == "json":
            console.out(dumps([{"field": f, "type": t, "predicates": p} for f, t, p in rows]))
        else:
            width = max(len(f) for f, _, _ in rows)
            console.out("".join(f"{f.ljust(width)}  {t:<28} {', '.join(p) or '(not emitted: free text)'}\n"
                                for f, t, p in rows))
        return OK
    table = {**vocabulary_table(), "formula": _formula_blocks()}
    if fmt == "json":
        console.out(dumps(table))
        return OK
    lines, group = [], None
    for entry in table["predicates"]:
        if entry["group"] != group:
            group = entry["group"]
            lines.append(f"\n{click.style(group, bold=True)}")
        lines.append(f"  {entry['name']}({', '.join(a['name'] for a in entry['args'])})")
        lines.append(f"      {entry['meaning']}")
        lines.extend(f"      {a['name']}: {a['kind']}" for a in entry["args"])
    lines.append(f"\n{click.style('argument kinds', bold=True)}")
    lines.extend(f"  {kind:<9} {meaning}" for kind, meaning in table["kinds"].items())
    formula = table["formula"]
    lines.append(f"\n{click.style('formula building blocks', bold=True)} (formula(Id, F), justifies(D, F): docs/authoring.md)")
    for b in formula["blocks"]:
        lines.append(f"  {b['name']} ({b['kind']})")
        lines.append(f"      {b['meaning']}")
        lines.append(f"      e.g. {b['example']}")
    lines.append(f"  measurements: {', '.join(formula['measurements'])}")
    lines.append(f"  categories: {', '.join(formula['categories'])}")
    console.out("".join(line + "\n" for line in lines))
    return OK


def _formula_blocks() -> dict:
    """The formula building blocks the core evaluates, each with an example, and what a figure may measure."""
    from engine.deciding.blocks import BLOCKS, measures

    table = measures()
    return {
        "blocks": [{"name": b.name, "kind": b.kind, "meaning": b.meaning, "example": b.example} for b in BLOCKS],
        "measurements": sorted(table["measured"]),
        "categories": sorted(table["category"]),
    }
