"""The building blocks of a formula (engine/deciding/core.lp, "formulas"), as data.

One table serves the readers of formulas: lint (a block or measurement the
core does not know would leave a criterion silently not documented),
``necessity vocab`` (each block with an example) and the analyses
(engine/analysing/formulas.py).  The measurements and categories a figure or
``is/2`` may name are read from core.lp's own ``measured/4`` and
``category/3`` rules, so a measurement the core gains is known at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import clingo
from clingo import Symbol, SymbolType, ast

from engine.deciding.core import statements as core_statements


@dataclass(frozen=True)
class Block:
    name: str
    arity: int | None  # None: any number of parts (up to MAX_PARTS)
    kind: str  # connective | leaf
    meaning: str
    example: str


MAX_PARTS = 12  # parts a connective takes: core.lp flattens up to this many

BLOCKS: tuple[Block, ...] = (
    Block("all", None, "connective", "met when every part is met; not met when some part is not met",
          "all(finding(adl_limitation), criterion(\"REF-D1\"))"),
    Block("any", None, "connective", "met when some part is met; not met when every part is not met",
          "any(finding(radiculopathy), finding(neurogenic_claudication))"),
    Block("any_stated", None, "connective", "met when some part is met; not met when some part is documented short "
          "and none is met or left open by a study", "any_stated(imaging(coronal_deformity), imaging(sagittal_deformity, case))"),
    Block("n_of", None, "connective", "n_of(K, ...): met when K or more parts are met; not met when fewer than K can be",
          "n_of(2, finding(radiculopathy), finding(sensory_deficit), finding(reflex_change))"),
    Block("negate", 1, "connective", "met when the part is not met, and the other way round",
          "negate(finding(tumor))"),
    Block("given", 1, "connective", "the part's value; cited only when it fails (a precondition)",
          "all(given(finding(motor_weakness)), at_most(mrc_grade, 4))"),
    Block("lacks", 1, "connective", "met unless the record establishes the part (silence read as absence)",
          "lacks(at_least(mrc_grade, 5))"),
    Block("asserted", 1, "connective", "met when the record establishes the part, else not met",
          "asserted(is(smoking_status, never))"),
    Block("finding", 1, "leaf", "finding(X, yes) documented: met; finding(X, no): not met",
          "finding(adl_limitation)"),
    Block("imaging", None, "leaf", "the governing studies' answer to a question (at(Q, L) at a level; imaging(Q, case) "
          "the case-wide question) the policy's study_answer/4 rules answer study by study", "imaging(stenosis_grade)"),
    Block("imaged_within", 2, "leaf", "imaged_within(Q, K): a study answering yes to Q at the level was taken within "
          "the K months before the request", "all(imaging(compression_grade), imaged_within(compression_grade, 6))"),
    Block("concordant", 0, "leaf", "the level is among those the record finds concordant with the symptoms",
          "all(imaging(compression_grade), concordant)"),
    Block("at_least", 2, "leaf", "a measurement (see measurements) at or above a figure in its unit",
          "at_least(nicotine_free_days, 42)"),
    Block("at_most", 2, "leaf", "a measurement at or below a figure", "at_most(hba1c, 80)"),
    Block("over", 2, "leaf", "a measurement above a figure", "over(cotinine, 100)"),
    Block("under", 2, "leaf", "a measurement below a figure", "under(body_mass_index, 400)"),
    Block("is", 2, "leaf", "a documented category has the value", "is(smoking_status, never)"),
    Block("several", 2, "connective", "several(K, Figure): met when K or more of the measurements the figure reads "
          "meet it; not met when fewer than K can", "several(2, at_least(si_block_relief, 750))"),
    Block("requested", 1, "leaf", "the procedure is requested at the level (determination trees)",
          "requested(fusion)"),
    Block("operated", 1, "leaf", "a prior operation of the type at the level; not met when the record lists its "
          "operations and none of the type is there (or of no stated level)", "operated(laminectomy)"),
    Block("side", 1, "leaf", "the item judged is requested on the side", "negate(side(bilateral))"),
    Block("planned", 1, "leaf", "the plan at the level removes the pars (planned(pars_resection))",
          "planned(pars_resection)"),
    Block("pending", 1, "connective", "never met; not documented while a study leaves the part open (each of its "
          "parts met or open, one open), else not met citing nothing",
          "any(imaging(slip_grade), pending(all(imaging(slip_grade), imaging(foraminal_grade))))"),
    Block("excluded", 1, "leaf", "never met: the payer excludes it, citing the reason",
          "excluded(\"experimental, investigational or unproven\")"),
    Block("criterion", 1, "leaf", "another criterion holds (at the level, or case-wide)", "criterion(\"REF-D1\")"),
    Block("satisfied", 1, "leaf", "a criterion, or the waiver standing in for it, holds", "satisfied(\"REF-D4\")"),
    Block("fused_level", None, "connective", "at an item: a level it serves has fusion justified (fused_level), "
          "and the part holds there (fused_level(F)); not met when none does", "fused_level(approach(anterior))"),
    Block("approach", 1, "leaf", "at a level: the fusion is planned by an approach from the direction "
          "(anterior, lateral, posterior)", "approach(lateral)"),
    Block("then", 2, "connective", "then(A, B): A, with B judged only once A holds (not met when A is not, or when "
          "A holds and B is not, citing only that part)", "then(prior_surgery, requested(decompression))"),
    Block("fusion_justified", 0, "leaf", "fusion is justified at some requested level; not met when at none (each "
          "level that requested fusion cited, or each requested level when none did)", "fusion_justified"),
    Block("fused_at", 1, "leaf", "fusion is justified at the named level (not met: its determination, or fusion not "
          "requested there)", "fused_at(\"L5-S1\")"),
    Block("at_fused_level", 1, "connective", "the part holds at some level where fusion is justified (that level's "
          "determination cited); not met when it fails at every one", "at_fused_level(prior_surgery)"),
    Block("prior_surgery", 0, "leaf", "a prior operation at the level; not met when the documented list holds none "
          "there and none of unknown level", "at_fused_level(prior_surgery)"),
    Block("prior_decompression", 0, "leaf", "a prior laminectomy, laminotomy, foraminotomy or discectomy at the "
          "level; not met as prior_surgery is", "then(prior_decompression, requested(decompression))"),
    Block("stenosis_reported", 0, "leaf", "stenosis of any grade but none reported at the level on any study (never "
          "not met)", "all(prior_decompression, stenosis_reported)"),
    Block("fused_levels", 0, "measurement", "the number of levels where fusion is justified (each cited); known "
          "once fusion is justified somewhere or refuted", "at_least(fused_levels, 2)"),
    Block("combined_approach", 0, "leaf", "the fused levels are approached from the front or side and from behind",
          "any(at_least(fused_levels, 2), combined_approach)"),
    # conservative care (core.lp, "care"): a selection of episodes, two measurements a figure compares, two leaves
    Block("care", None, "selection", "care(Modality, Delivery, Outcome, Sessions): the episodes of the modality (or "
          "any) delivered so (or any), leaving out an outcome (except(O)) or a number of sessions (except(N)); "
          "care(M) and care(M, D) leave the rest as any",
          "at_least(care_days(care(physical_therapy, supervised_in_person, except(not_tolerated), except(1))), 42)"),
    Block("care_days", 1, "measurement", "the days of the chosen episodes summed, the fewest and most they can be; "
          "an episode of unknown length or delivery leaves a shortfall open, a list without the modality too",
          "at_least(care_days(care(physical_therapy)), 42)"),
    Block("care_span", 0, "measurement", "the span of care in days: a stated total, one episode's length, the first "
          "start to the last end, or the first start to the request while ongoing", "at_least(care_span, 84)"),
    Block("ended_within", 2, "leaf", "a chosen episode ended within the K months before the request, or is ongoing; "
          "not met when one ended before that and none within", "ended_within(care(physical_therapy), 12)"),
    Block("outcome", 2, "leaf", "outcome(Y, N): some episode of care ended as Y (met); none did and some ended as N "
          "(not met)", "any(outcome(failed, resolved), outcome(partial_relief, resolved))"),
    Block("received", 1, "leaf", "received(M): the list of care holds an episode of modality M (met); it holds "
          "others but none of M (not met, citing absent(M))", "all(given(received(physical_therapy)), "
          "at_least(care_days(care(physical_therapy)), 42))"),
)
BY_NAME = {b.name: b for b in BLOCKS}
FIGURES = frozenset({"at_least", "at_most", "over", "under"})
#: What a figure may measure besides measured/4: conservative care (core.lp, "care").
CARE_MEASURES = {"care_days": 1, "care_span": 0}
#: ... and the number of levels where fusion is justified (core.lp, "determinations").
COUNTED = {"fused_levels": 0}
CARE_FIELDS = ("modality", "delivery", "outcome", "sessions")
#: Declarations whose second argument is a formula.
FORMULA_HEADS = {"formula": 2, "justifies": 2}


@lru_cache(maxsize=1)
def measures() -> dict[str, dict[str, tuple[tuple[str, int], ...]]]:
    """``{"measured": {name: case places}, "category": {...}, "counted": {...}}``, read from core.lp's rules.

    A measurement that counts entries (``N = #count { X : limited_activity(X) }``)
    has no case place of its value: "counted" names the places it counts."""
    from engine.deciding.predicates import atoms, signature, uses_in

    found: dict[str, dict[str, list[tuple[str, int]]]] = {"measured": {}, "category": {}, "counted": {}}
    for stm in core_statements():
        if stm.ast_type != ast.ASTType.Rule or stm.head.ast_type != ast.ASTType.Literal:
            continue
        head = stm.head.atom
        if head.ast_type != ast.ASTType.SymbolicAtom or head.symbol.ast_type != ast.ASTType.Function:
            continue
        term = head.symbol
        if (term.name, len(term.arguments)) not in (("measured", 4), ("category", 3), ("measured_at", 5)):
            continue
        # measured_at(M, L, Least, Most, Fact): a measurement of the level, read as measured/4 is
        name, value = term.arguments[0], term.arguments[2 if term.name == "measured_at" else 1]
        if name.ast_type != ast.ASTType.SymbolicTerm:
            continue
        places = found["measured" if term.name == "measured_at" else term.name].setdefault(name.symbol.name, [])
        if value.ast_type != ast.ASTType.Variable:  # named values (si_joint_arthropathy): where constants are read
            places += [(signature(u.term), i) for u in uses_in(stm) if not u.head and u.term is not None
                       and u.term.ast_type == ast.ASTType.Function
                       for i, arg in enumerate(u.term.arguments) if arg.ast_type == ast.ASTType.SymbolicTerm]
            continue
        for lit in stm.body:
            agg = lit.atom if lit.ast_type == ast.ASTType.Literal else None
            if agg is not None and agg.ast_type == ast.ASTType.BodyAggregate and any(
                    g is not None and g.term.ast_type == ast.ASTType.Variable and g.term.name == value.name
                    for g in (agg.left_guard, agg.right_guard)):
                counted = found["counted"].setdefault(name.symbol.name, [])
                counted.extend((u.signature, 0) for u in atoms(agg.elements, False))
        for use in uses_in(stm):
            if use.head or use.term is None or use.term.ast_type != ast.ASTType.Function:
                continue
            for i, arg in enumerate(use.term.arguments):
                if arg.ast_type == ast.ASTType.Variable and arg.name == value.name:
                    places.append((signature(use.term), i))
    return {k: {n: tuple(p) for n, p in v.items()} for k, v in found.items()}


def care_measured(m: Symbol) -> bool:
    return m.type == SymbolType.Function and CARE_MEASURES.get(m.name) == len(m.arguments)


def counted(m: Symbol) -> bool:
    return m.type == SymbolType.Function and COUNTED.get(m.name) == len(m.arguments)


def selection(term: Symbol) -> dict[str, Symbol] | None:
    """The fields of a care selection ``care(M)``, ``care(M, D)`` or ``care(M, D, O, N)``; None if it is not one."""
    if term.type != SymbolType.Function or term.name != "care" or len(term.arguments) not in (1, 2, 4):
        return None
    return dict(zip(CARE_FIELDS, term.arguments))


def care_problems(node: Symbol, holder: Symbol) -> Iterator[str]:
    """What is wrong with the care selection a care measurement or window holds."""
    if holder.name == "care_span":
        return
    chosen = selection(holder.arguments[0])
    if chosen is None:
        yield f"'{node}': choose the episodes with care(Modality), care(Modality, Delivery) or care(M, D, O, N)"
        return
    for field in ("outcome", "sessions"):
        value = chosen.get(field)
        if value is not None and str(value) != "any" and not (
                value.type == SymbolType.Function and value.name == "except" and len(value.arguments) == 1):
            yield f"'{node}': the {field} of care(...) is any or except(...)"


def declarations(statements) -> Iterator[tuple[ast.AST, str | None, Symbol]]:
    """(statement, criterion or None, formula) for every ``formula/2`` and ``justifies/2`` fact."""
    for stm in statements:
        if stm.ast_type != ast.ASTType.Rule or stm.body or stm.head.ast_type != ast.ASTType.Literal:
            continue
        atom = stm.head.atom
        if atom.ast_type != ast.ASTType.SymbolicAtom:
            continue
        try:
            sym = clingo.parse_term(str(atom.symbol))
        except (RuntimeError, ValueError):
            continue
        if sym.type != SymbolType.Function or FORMULA_HEADS.get(sym.name) != len(sym.arguments):
            continue
        owner = sym.arguments[0].string if sym.name == "formula" and sym.arguments[0].type == SymbolType.String else None
        yield stm, owner, sym.arguments[1]


def name_of(sym: Symbol) -> str | None:
    if sym.type == SymbolType.String:
        return sym.string
    if sym.type == SymbolType.Function:
        return sym.name
    return None


def parts(f: Symbol) -> list[Symbol]:
    """The sub-formulas of a connective (``n_of``'s count left out); none for a leaf."""
    if f.type != SymbolType.Function or f.name not in BY_NAME or BY_NAME[f.name].kind != "connective":
        return []
    return list(f.arguments[1:] if f.name in ("n_of", "several") else f.arguments)


def problems(f: Symbol) -> Iterator[str]:
    """What the core cannot evaluate in formula ``f``: each such node, with why."""
    pending = [f]
    known = measures()
    while pending:
        node = pending.pop()
        name = node.name if node.type == SymbolType.Function else None
        block = BY_NAME.get(name or "")
        if block is None:
            yield f"'{node}' is not a formula building block (necessity vocab lists them)"
            continue
        n = len(node.arguments)
        if name == "n_of":
            if n < 2 or node.arguments[0].type != SymbolType.Number:
                yield f"'{node}': n_of takes a count and at least one part"
            elif n - 1 > MAX_PARTS:
                yield f"'{node}': at most {MAX_PARTS} parts; nest the rest in all(...) or any(...)"
        elif name == "fused_level":
            if n > 1:
                yield f"'{node}': fused_level takes at most one part"
        elif name == "excluded":
            if n != 1 or node.arguments[0].type != SymbolType.String:
                yield f"'{node}': excluded takes the exclusion's text, a string"
        elif name == "imaged_within" and (n != 2 or node.arguments[1].type != SymbolType.Number):
            yield f"'{node}': imaged_within takes a question and a number of months"
        elif name == "planned" and n == 1 and str(node.arguments[0]) != "pars_resection":
            yield f"'{node}': the core knows planned(pars_resection) only"
        elif name == "several":
            if n != 2 or node.arguments[0].type != SymbolType.Number or name_of(node.arguments[1]) not in FIGURES:
                yield f"'{node}': several takes a count and a figure (at_least, at_most, over or under)"
        elif name == "imaging":
            if not (n == 1 or (n == 2 and str(node.arguments[1]) == "case")):
                yield f"'{node}': imaging(Q) asks Q at the scope, imaging(Q, case) the case-wide Q"
        elif block.arity is None and not 1 <= n <= MAX_PARTS:
            yield f"'{node}': {name} takes 1 to {MAX_PARTS} parts; nest the rest"
        elif block.arity is not None and n != block.arity:
            yield f"'{node}': {name} takes {block.arity} argument{'s' if block.arity > 1 else ''}"
        elif name in FIGURES and care_measured(node.arguments[0]):
            yield from care_problems(node, node.arguments[0])
            if node.arguments[1].type != SymbolType.Number:
                yield f"'{node}': the figure is a number of days"
        elif name in FIGURES and counted(node.arguments[0]) and node.arguments[1].type == SymbolType.Number:
            pass
        elif name in FIGURES and (name_of(node.arguments[0]) not in known["measured"]
                                  or node.arguments[1].type != SymbolType.Number):
            yield (f"'{node}': the core measures {', '.join(sorted(known['measured']))}, and care_days(care(...)), "
                   "care_span and fused_levels; the figure is a number in the measurement's unit")
        elif block.kind in ("selection", "measurement"):
            yield f"'{node}': {name} is not a formula on its own: compare it with a figure (necessity vocab)"
        elif name == "ended_within":
            yield from care_problems(node, node)
            if node.arguments[1].type != SymbolType.Number:
                yield f"'{node}': ended_within(care(...), K) takes a number of months"
        elif name == "is" and name_of(node.arguments[0]) not in known["category"]:
            yield f"'{node}': the core's categories are {', '.join(sorted(known['category']))}"
        pending.extend(parts(node))
