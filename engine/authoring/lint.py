"""Static checks on a policy folder, reported like a compiler.

Each finding is ``file:line:col: CODE message``.  The codes are documented in
docs/authoring.md (what each finds, why it matters, an example, the fix).

What is "known" is derived, not listed by hand: the case vocabulary comes
from facts.vocabulary, and the engine's own predicates from walking
engine/deciding/core.lp, so a new case field or core rule needs no change here.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import clingo
from clingo import ast

from engine.deciding import blocks
from engine.deciding.core import POLICY_API, intrusions
from engine.deciding.core import signatures as engine_signatures
from engine.deciding.core import statements as core_statements
from engine.deciding.errors import PolicyError
from engine.deciding.policy import BOM, REQUIRED_HEADER, Policy, _display, parse_files, read_header, vet
from engine.deciding.predicates import atoms as _atoms
from engine.deciding.predicates import nodes as _nodes
from engine.deciding.predicates import relocated as _relocated
from engine.deciding.predicates import uses as _uses
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES

# Predicates in a policy's rules whose first argument names a criterion.
_CRITERION_ARG = {
    "scope", "bears_on", "met", "not_met", "noted", "documentation", "part_of", "waives",
    "provision", "derived", "precondition_unmet", "documented_with", "holds", "satisfied", "status",
    "evaluated", "assumed",
}


_LOCATED = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+)(?:-[\d:]+)?: (?P<msg>.*)$", re.S)


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    column: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.code} {self.message}"


def _near(sig: str, known: set[str]) -> str:
    name, _, arity = sig.rpartition("/")
    same_name = sorted(k for k in known if k.rpartition("/")[0] == name)
    if same_name:
        return f" (did you mean '{same_name[0]}'?)"
    close = difflib.get_close_matches(sig, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _at(loc: ast.Location) -> tuple[str, int, int]:
    return loc.begin.filename, loc.begin.line, loc.begin.column


def _ground_errors(statements: list[ast.AST]) -> list[Finding]:
    """Errors clingo finds only when grounding, such as unsafe variables."""
    messages: list[str] = []
    ctl = clingo.Control(logger=lambda _c, m: messages.append(m), message_limit=100)
    try:
        with ast.ProgramBuilder(ctl) as builder:
            for stm in core_statements():
                builder.add(stm)
            for stm in statements:
                if stm.ast_type != ast.ASTType.Script:  # refused already (E201), never run
                    builder.add(stm)
        ctl.ground([("base", [])])
    except RuntimeError:
        pass
    out = []
    for msg in messages:
        if ": error:" not in msg:
            continue
        where, _, rest = msg.partition(": error: ")
        parts = where.split(":")
        try:
            line, col = int(parts[1]), int(parts[2].split("-")[0])
        except (IndexError, ValueError):
            line, col = 1, 1
        detail = " ".join(rest.replace("<string>", parts[0]).split())
        code = "E102" if "unsafe" in rest else "E101"
        out.append(Finding(parts[0], line, col, code, detail))
    return out


def refuse_ungroundable(policy: Policy) -> None:
    """Raise ``PolicyError`` when the policy cannot be grounded with the core (an unsafe
    variable): for a command that would otherwise meet the error once per case."""
    findings = _ground_errors(list(policy.statements))
    if findings:
        raise PolicyError([str(f) for f in findings])


def refuse_ungroundable_within(policy: Policy, timeout: float | None) -> None:
    """``refuse_ungroundable`` in a child within ``timeout`` and the memory limit (engine/deciding/limits.py):
    the check grounds the policy, and a policy that never stops grounding must not hold this process."""
    from engine.deciding.errors import UserError
    from engine.deciding.limits import Stopped, limited

    def job() -> tuple:
        refuse_ungroundable(policy)
        return ()

    for event in limited(job, timeout=timeout):
        if isinstance(event, Stopped):
            raise UserError(f"{policy.id}: {event.detail} while grounding the policy: no case was decided")


def _bounded_ground_errors(statements: list[ast.AST], folder: Path, timeout: float | None) -> list[Finding]:
    """``_ground_errors`` in a child process, within ``timeout`` and the memory limit
    (engine/deciding/limits.py): a policy that never stops grounding is a finding, E108."""
    from engine.deciding.limits import Stopped, limited

    found: list[Finding] = []
    for event in limited(lambda: [_ground_errors(statements)], timeout=timeout):
        if isinstance(event, Stopped):
            where = next((s.location.begin.filename for s in statements), _display(folder / "policy.lp"))
            return [Finding(where, 1, 1, "E108", f"the policy did not finish grounding with the core ({event.detail}): "
                            "a rule may derive new values without end, as p(X+1) :- p(X); bound it")]
        found = event
    return found


def lint(folder: Path, timeout: float | None = None) -> list[Finding]:
    """Every finding in one policy folder, sorted by place; the grounding within ``timeout``."""
    findings: list[Finding] = []
    files, vet_errors = vet(folder)
    for err in vet_errors:
        head, _, rest = err.partition(": ")
        parts = head.split(":")
        code, _, message = rest.partition(" ")
        if len(parts) >= 3 and code.startswith("E"):
            findings.append(Finding(parts[0], int(parts[1]), int(parts[2]), code, message))
        else:
            findings.append(Finding(parts[0], 1, 1, "E200", rest or err))
    for path, _text in files:
        try:
            with path.open("rb") as handle:
                marked = handle.read(3) == BOM.encode("utf-8")
        except OSError:
            marked = False
        if marked:
            findings.append(Finding(_display(path), 1, 1, "W207", "byte-order mark at the start of the file: it is "
                                    "read and ignored, but other tools may not; save the file as UTF-8 without BOM"))
    statements, parse_errors = parse_files(files)
    for err in parse_errors:
        m = _LOCATED.match(err)
        if m:
            message = " ".join(m["msg"].removeprefix("error: ").split())
            code, _, rest = message.partition(" ")
            if not re.fullmatch(r"E\d{3}", code):  # a syntax error; E204 comes coded already
                code, rest = "E101", message
            findings.append(Finding(m["file"], int(m["line"]), int(m["col"]), code, rest))
        else:
            findings.append(Finding(err.split(":")[0], 1, 1, "E101", " ".join(err.split())))
    if parse_errors or not files:
        return sorted(set(findings))

    main_file, main_text = next(((p, t) for p, t in files if p.name == "policy.lp"), files[0])
    missing = [k for k in REQUIRED_HEADER if k not in read_header(main_text)]
    if missing:
        findings.append(Finding(_display(main_file), 1, 1, "E302", f"header lacks {', '.join(missing)}: add '% key: value' lines"))

    core_defined, _ = engine_signatures()
    uses = list(_uses(statements))
    policy_defined = {u.signature for u in uses if u.head}
    known = CASE_SIGNATURES | core_defined | POLICY_API | policy_defined

    findings.extend(Finding(*_at(where), code, message) for where, code, message in intrusions(statements))
    engine = POLICY_API | core_defined
    for u in uses:
        if u.head:
            name = u.signature.rpartition("/")[0]
            same_name = sorted(sig for sig in engine if sig.rpartition("/")[0] == name)
            if same_name and u.signature not in engine:
                findings.append(Finding(*_at(u.location), "E104",
                                        f"'{u.signature}' has the wrong arity for the engine's '{same_name[-1]}'"
                                        " (a ';' pool inside arguments splits the tuple: write one fact per value)"))
        elif u.signature not in known:
            findings.append(Finding(*_at(u.location), "E103", f"unknown predicate '{u.signature}'{_near(u.signature, known - {u.signature})}"))

    # criteria: declared once, with id, title and citation; referenced only if declared
    declared: dict[str, tuple[str, int, int]] = {}
    for stm in statements:
        if stm.ast_type != ast.ASTType.Rule:
            continue
        for u in _relocated(_atoms(stm.head, True), stm.location.begin.filename):
            if u.signature != "criterion/3":
                continue
            where = _at(u.location)
            term = stm.head.atom.symbol if stm.head.ast_type == ast.ASTType.Literal else None
            args = list(term.arguments) if term is not None and term.ast_type == ast.ASTType.Function else []
            values = [a.symbol.string if a.ast_type == ast.ASTType.SymbolicTerm and a.symbol.type == clingo.SymbolType.String else None
                      for a in args]
            if stm.body or len(values) != 3 or any(not v for v in values):
                findings.append(Finding(*where, "E301", "criterion/3 needs a fact with three non-empty strings: id, title, citation"))
                continue
            if values[0] in declared:
                first = declared[values[0]]
                findings.append(Finding(*where, "E303", f"criterion '{values[0]}' is declared twice (first at {first[0]}:{first[1]})"))
            else:
                declared[values[0]] = where
    scoped: set[str] = set()
    for u in uses:
        name = u.signature.rpartition("/")[0]
        if name not in _CRITERION_ARG or u.first_arg is None or u.first_arg.type != clingo.SymbolType.String:
            continue
        cid = u.first_arg.string
        if name == "scope" and u.head:
            scoped.add(cid)
        if cid not in declared:
            close = difflib.get_close_matches(cid, sorted(declared), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ": declare it with criterion/3"
            findings.append(Finding(*_at(u.location), "E304", f"criterion '{cid}' is used but not declared{hint}"))
    for cid, where in declared.items():
        if cid not in scoped:
            findings.append(Finding(*where, "E305", f"criterion '{cid}' has no scope/2: say where it is judged (case, level, pelvis, item(I))"))

    findings.extend(_formula_findings(statements, uses, declared))
    findings.extend(_unworded(statements))
    findings.extend(_gating(statements, declared))
    findings.extend(_bounded_ground_errors(statements, folder, timeout))
    return sorted(set(findings))


def _unworded(statements: list[ast.AST]) -> list[Finding]:
    """E309 evidence without words (engine/authoring/citing.py)."""
    from engine.authoring.citing import problems

    out = []
    for file, line, column, sig in problems(statements):
        name = sig.rpartition("/")[0]
        out.append(Finding(file, line, column, "E309",
                           f"evidence '{sig}' has no words: a reviewer would read the atom ({name}(...)) in every "
                           "output; cite a fact of the case vocabulary (necessity vocab), or exclusion(\"a sentence\")"))
    return out


def _gating(statements: list[ast.AST], declared: dict) -> list[Finding]:
    """W310 a criterion nothing gates on; W311 a criterion's rule reading what no case can produce
    (engine/authoring/gating.py)."""
    from engine.authoring.gating import ungated, unreachable

    return [Finding(*w) for w in (*ungated(statements, declared), *unreachable(statements))]


#: What a rule-defined criterion reads when a formula would say it (E308): its findings only.
_FINDING_ONLY = frozenset({"evaluated/2", "finding/2"})


def _formula_findings(statements: list[ast.AST], uses: list, declared: dict) -> list[Finding]:
    """E306 a formula the core cannot evaluate; E304 a formula naming an undeclared criterion; E307 a
    formula-defined criterion with rules of its own; E308 rules a formula would say."""
    out: list[Finding] = []
    formulas: set[str] = set()
    for stm, owner, formula in blocks.declarations(statements):
        where = _at(stm.location)
        if owner is not None:
            formulas.add(owner)
        out.extend(Finding(*where, "E306", problem) for problem in blocks.problems(formula))
        pending = [formula]
        while pending:
            node = pending.pop()
            pending.extend(blocks.parts(node))
            if node.type == clingo.SymbolType.Function and node.name in ("criterion", "satisfied") \
                    and len(node.arguments) == 1 and node.arguments[0].type == clingo.SymbolType.String \
                    and node.arguments[0].string not in declared:
                out.append(Finding(*where, "E304", f"criterion '{node.arguments[0].string}' is used but not declared"))
    rules: dict[str, list[ast.AST]] = {}
    for stm in statements:
        if stm.ast_type != ast.ASTType.Rule:
            continue
        for u in _relocated(_atoms(stm.head, True), stm.location.begin.filename):
            if u.signature in ("met/3", "not_met/3") and u.first_arg is not None \
                    and u.first_arg.type == clingo.SymbolType.String:
                rules.setdefault(u.first_arg.string, []).append(stm)
                if u.first_arg.string in formulas:
                    out.append(Finding(*_at(u.location), "E307",
                                       f"'{u.first_arg.string}' is defined by its formula: the core derives its "
                                       f"{u.signature.partition('/')[0]}; remove this rule"))
    for cid, stms in rules.items():
        read = {u.signature for stm in stms for u in _relocated(_atoms(stm.body, False), stm.location.begin.filename)}
        if cid not in formulas and "finding/2" in read and read <= _FINDING_ONLY \
                and not any(n.ast_type == ast.ASTType.Comparison for stm in stms for n in _nodes(stm.body)):
            out.append(Finding(*_at(stms[0].location), "E308",
                               f"'{cid}' reads findings only: declare formula(\"{cid}\", ...) with finding(X), "
                               "all/any/negate, and drop its met/not_met rules"))
    return out
