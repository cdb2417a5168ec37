"""A decision for a reviewer at a terminal: the answer first, then the reasons.

The first lines say the outcome and, per requested level and item, what was
asked, what is justified, and the criteria that stand in the way; then what
would change each answer, documentation to obtain apart from findings the
record contradicts.  Below that, the criteria: the case-level ones once, then
each level's and each item's own.  ``verbose`` adds every other criterion the
policy evaluated.  Everything shown comes from the ``Decision``.
"""

from __future__ import annotations

import unicodedata

import click

from engine.presenting import labels
from engine.presenting.actions import action_of, request_action, WORDS as ACTION_WORDS
from engine.presenting.context import Context
from engine.deciding.decision import (CONTRADICTED, CONTRADICTED_AND_DOCUMENTATION, DOCUMENTATION, CriterionResult,
                                      Decision, ItemDecision, LevelDecision, WouldChange, requirements)

MARK = {"met": ("✓", "green"), "not_met": ("✗", "red"), "not_documented": ("?", "yellow")}
WAIVED = ("↷", "cyan")
_COLOUR = {
    "fusion": "green", "decompression_only": "cyan", "none": "red", "not_addressed": "yellow",
    "medically_necessary": "green", "not_medically_necessary": "red",
    "approved": "green", "partially_approved": "yellow", "denied": "red",
}


def plain(text: str) -> str:
    """Text from a case, shown on one line: control characters (newlines,
    terminal escapes) and bidirectional overrides are written as escapes, so a
    case id or description cannot forge report lines or restyle the terminal."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if hidden(ch) else ch for ch in text)


def hidden(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"


def styled(value: str) -> str:
    """A determination or outcome, coloured and in words."""
    words = labels.outcome(value) if value in labels.OUTCOMES else labels.determination(value)
    return click.style(words, fg=_COLOUR.get(value), bold=True)


def mark(status: str) -> str:
    glyph, colour = MARK[status]
    return click.style(glyph, fg=colour)


def subject_key(subject: LevelDecision | ItemDecision) -> str:
    """The scope string criteria of this subject carry: ``L4-L5``, ``rhbmp2``, ``interbody_device@L4-L5``."""
    if isinstance(subject, LevelDecision):
        return subject.level
    return subject.item if subject.level is None else f"{subject.item}@{subject.level}"


def subject_name(subject: LevelDecision | ItemDecision) -> str:
    if isinstance(subject, LevelDecision):
        return subject.level
    return labels.item(subject.item, subject.level)


def elsewhere(scope: str, subject: str) -> str:
    """The scope when a criterion is judged somewhere other than its subject
    (``L5-S1`` for S1-pelvis), else ``""``: case-level criteria, the subject's
    own and, for an item at a level, that level's are not elsewhere."""
    if scope in ("case", subject) or "@" in scope or scope == subject.partition("@")[2]:
        return ""
    return scope


def _at(scope: str, subject: str) -> str:
    """`` at L5-S1`` when a criterion is judged somewhere other than the subject itself."""
    where = elsewhere(scope, subject)
    return f" at {labels.scope(where)}" if where else ""


def _failing(c: CriterionResult) -> bool:
    """Not met or not documented, and a criterion in its own right: not a
    composite (its parts are listed), a waiver (an alternative) or waived."""
    return c.status != "met" and not (c.waived_by or c.parts or c.waives)


def _named(subject: LevelDecision | ItemDecision) -> list[tuple[str, str]]:
    """Every (criterion, scope) a what-if line giving what was asked names, in order
    (``requirements``: the same lines the documentation to request is read from)."""
    return list(dict.fromkeys((a.criterion, a.scope) for w in requirements(subject) for a in (*w.requires, *w.one_of)))


def blocking(decision: Decision, subject: LevelDecision | ItemDecision) -> list[CriterionResult]:
    """The subject's own criteria that stand between what was justified and what was asked.

    With the what-if computed: those named by its lines that give what was
    asked (a fusion-only request is not blocked by a criterion only
    decompression needs, though a line to decompression only names it), and those that fail
    because other determinations do (``derived/1``, which no line can name).
    A failing criterion in neither is in nobody's way: with ``REF-F1`` met at
    L4-L5, ``REF-F2`` not documented there changes nothing.  Criteria judged
    elsewhere are ``blocked_elsewhere``.  Without the what-if (``batch``
    without ``--would-change``): every failing criterion, which can be more
    than what blocks; ``decision.would_change_computed`` tells which.
    """
    failing = [c for c in subject.criteria if _failing(c)]
    if not decision.would_change_computed:
        return failing
    named = set(_named(subject))
    return [c for c in failing if (c.id, c.scope) in named or c.derived]


def blocked_elsewhere(decision: Decision, subject: LevelDecision | ItemDecision) -> list[str]:
    """The levels or items whose own criteria a what-if line giving what was asked
    also needs (L5-S1 for S1-pelvis, the level for a device), in order."""
    if not decision.would_change_computed:
        return []
    own = {(c.id, c.scope) for c in subject.criteria}
    return list(dict.fromkeys(scope for cid, scope in _named(subject) if (cid, scope) not in own))


def requirement(a, subject: str, marked: bool) -> str:
    text = a.criterion + _at(a.scope, subject)
    return f"{mark(a.status)} {text}" if marked else text


#: Lines that need a finding the record contradicts (✗) and documentation it lacks (?), each marked.
BOTH_TITLE = "findings the record contradicts, and documentation to obtain (✗ a different finding, ? documentation)"


def change_phrase(w: WouldChange, subject: str, name=None, one_of: str = "one of", joined: bool = True) -> str:
    """``REF-D4a and one of REF-F1, REF-F2``: ``name(a, subject, with_status)`` writes each
    criterion (status marks by default, where findings are contradicted); ``joined``
    runs all but the last with commas, else every one with "and"."""
    name = name or requirement
    with_status = w.kind != DOCUMENTATION
    parts = [name(a, subject, with_status) for a in w.requires]
    if w.one_of:
        choices = ", ".join(name(a, subject, with_status) for a in w.one_of)
        head = one_of if w.choose == 1 else f"any {w.choose} of"  # at least K of a declared n_of
        parts.append(f"{head} {choices}" if len(w.one_of) > 1 else choices)
    if joined and len(parts) > 1:
        parts = [", ".join(parts[:-1]), parts[-1]]
    return " and ".join(parts)


def criterion_lines(c: CriterionResult, subject: str, indent: str) -> list[str]:
    """One criterion: status, title, citation, and every fact it read."""
    if c.waived_by:
        glyph = click.style(WAIVED[0], fg=WAIVED[1])
        head = f"{indent}{glyph} {click.style(c.id, bold=True)}{_at(c.scope, subject)} waived by {c.waived_by}: {c.title}"
    else:
        head = (f"{indent}{mark(c.status)} {click.style(c.id, bold=True)}{_at(c.scope, subject)} "
                f"{labels.status(c.status)}: {c.title}")
    lines = [head, f"{indent}    {click.style('[' + c.citation + ']', dim=True)}"]
    lines += [f"{indent}    - {plain(labels.finding(e.text, e.atom))}" for e in c.evidence]
    lines += [f"{indent}    - open: {plain(labels.finding(e.text, e.atom))}" for e in c.unsettled]
    # what this record is silent on, what would settle it, or what the criterion needs
    lines += [f"{indent}    - {lead} {what}" for lead, what in labels.missing(c)]
    lines += [f"{indent}    - superseded: {plain(labels.finding(e.text, e.atom))}" for e in c.superseded]
    lines += [f"{indent}    - noted, does not count: {plain(labels.finding(e.text, e.atom))}" for e in c.noted]
    return lines


def changes_lines(changes: tuple[WouldChange, ...], subject: str, indent: str) -> list[str]:
    """What would change a subject: documentation to obtain, then contradicted findings, apart."""
    lines: list[str] = []
    for kind, title in ((DOCUMENTATION, "documentation to obtain"),
                        (CONTRADICTED, "findings the record contradicts (only a different finding would change it)"),
                        (CONTRADICTED_AND_DOCUMENTATION, BOTH_TITLE)):
        of_kind = [w for w in changes if w.kind == kind]
        if of_kind:
            lines.append(f"{indent}{click.style(title, underline=True)}:")
            lines += [f"{indent}  → {styled(w.determination)}: {change_phrase(w, subject)}" for w in of_kind]
    return lines


def _tree(criteria: list[CriterionResult], subject: str, indent: str,
          seen: dict[tuple, str] | None = None) -> list[str]:
    """Criteria in policy order, each composite's parts indented beneath it.

    A criterion the record is silent on in the same words as at a level
    shown before is one line pointing there (``seen`` remembers them).
    """
    shown = {c.id for c in criteria}
    nested = {p for c in criteria for p in c.parts if p in shown}
    by_id = {c.id: c for c in criteria}
    lines: list[str] = []

    def one(c: CriterionResult, pad: str) -> None:
        key = (c.id, c.status, c.documentation, c.waived_by, c.lacking)
        silent = not (c.evidence or c.unsettled or c.superseded or c.noted)
        if seen is not None and silent and key in seen:
            lines.append(f"{pad}{mark(c.status)} {click.style(c.id, bold=True)} {labels.status(c.status)}: "
                         f"{c.title} (as at {seen[key]})")
            return
        if seen is not None and silent:
            seen[key] = subject
        lines.extend(criterion_lines(c, subject, pad))

    for c in criteria:
        if c.id in nested:
            continue
        one(c, indent)
        for p in c.parts:
            if p in by_id:
                one(by_id[p], indent + "    ")
    return lines


def action_styled(code: str) -> str:
    colour = {"certify": "green", "pend": "yellow", "refer": "red"}[code]
    return click.style(ACTION_WORDS[code], fg=colour, bold=True)


def _summary(decision: Decision, subjects: list[LevelDecision | ItemDecision]) -> list[str]:
    """Per service: what was asked, what is justified and the review action; beneath, the
    criteria in the way (their titles follow the what-if, in "the criteria named above")."""
    names = [subject_name(s) for s in subjects]
    asked = [labels.procedure(s.requested) if isinstance(s, LevelDecision) else "" for s in subjects]
    wn, wa = max(map(len, names), default=0), max(map(len, asked), default=0)
    lines = []
    for s, name, req in zip(subjects, names, asked):
        action = action_of(decision, s)
        row = f"  {click.style(name.ljust(wn), bold=True)}  {req.ljust(wa)}  → {styled(s.determination)}"
        row += f"  · {action_styled(action.code)}"
        if s.determination == "not_addressed":
            lines.append(f"{row} (the policy has no criterion for it)")
            continue
        named = [f"{mark(c.status)} {c.id}{_at(c.scope, subject_key(s))}" for c in blocking(decision, s)]
        others = labels.anatomical(blocked_elsewhere(decision, s))
        if others:
            named.append(f"criteria judged at {', '.join(labels.scope(o) for o in others)}")
        if named:
            row += "  blocked by " + ", ".join(named)
        lines.append(row)
    return lines


def _titles(subjects: list[LevelDecision | ItemDecision]) -> dict[str, str]:
    return {c.id: c.title for s in subjects for c in s.criteria}


def glossary(subjects: list[LevelDecision | ItemDecision], ids: list[str], indent: str = "  ") -> list[str]:
    """Each criterion id a block named, with its title, once."""
    titles = _titles(subjects)
    ids = [i for i in dict.fromkeys(ids) if i in titles]
    width = max(map(len, ids), default=0)
    return [f"{indent}{i.ljust(width)}  {titles[i]}" for i in ids]


def _changes_summary(subjects: list[LevelDecision | ItemDecision]) -> list[str]:
    lines = []
    width = max((len(subject_name(s)) for s in subjects if s.would_change), default=0)
    for kind, title in ((DOCUMENTATION, "documentation to obtain"),
                        (CONTRADICTED, "findings the record contradicts (only a different finding would change these)"),
                        (CONTRADICTED_AND_DOCUMENTATION, BOTH_TITLE)):
        rows = []
        for s in subjects:
            name = subject_name(s)
            for w in (w for w in s.would_change if w.kind == kind):
                rows.append(f"  {name.ljust(width)}  → {styled(w.determination)}: {change_phrase(w, subject_key(s))}")
                name = ""
        if rows:
            lines += [click.style(title, underline=True) + ":", *rows]
    return lines


def context_lines(context: Context | None) -> list[str]:
    """The request's identifiers and the decision time, when known (the policy's id, version and
    effective date are on the first line)."""
    if context is None:
        return []
    out = [f"  {label.lower()}: {plain(value)}" for label, value in context.identifiers]
    if context.codes:
        out.append(f"  service codes: {plain(', '.join(context.code_text))}")
    return out


def notes_lines(context: Context | None) -> list[str]:
    """Every note of the case record; an attested fact says so (it came from an assessment's conclusion)."""
    if context is None or not context.notes:
        return []
    out = ["", click.style("case notes", bold=True)]
    for n in context.notes:
        tag = " [attested fact]" if n.attested else ""
        out.append(f"  - {plain(n.where)}{tag}: {plain(n.text)}")
    return out


def to_text(decision: Decision, level: str | None = None, verbose: bool = False,
            context: Context | None = None, policy=None) -> str:
    p = decision.policy
    levels = [lv for lv in decision.levels if level is None or lv.level == level]
    items = [it for it in decision.items if level is None or it.level == level]
    subjects: list[LevelDecision | ItemDecision] = [*levels, *items]
    out = [f"{click.style(plain(decision.case), bold=True)} under {p.id} {p.version} (effective {p.effective}): "
           f"{styled(decision.outcome)}{labels.in_part(len(decision.undecided))}"
           f" · {action_styled(request_action(decision))}"]
    out += context_lines(context)
    out += [click.style(f"! {n.text}", fg="yellow") for n in decision.notices]
    out.append("")
    out += _summary(decision, subjects)
    if decision.would_change_computed:
        changes = _changes_summary(subjects)
        if changes:
            out += ["", *changes]
    named = [c.id for s in subjects for c in blocking(decision, s)]
    named += [a.criterion for s in subjects for w in s.would_change for a in (*w.requires, *w.one_of)]
    if named:
        out += ["", "the criteria named above:", *glossary(list(decision.levels) + list(decision.items), named)]
    if not decision.explained:
        return "\n".join(out).rstrip() + "\n"

    case_level: dict[str, CriterionResult] = {}
    for s in subjects:
        for c in s.criteria:
            if c.scope == "case":
                case_level.setdefault(c.id, c)
    if case_level:
        order = {c.id: i for i, c in enumerate(c for s in subjects for c in s.criteria)}
        out += ["", click.style("case-level criteria", bold=True)]
        out += _tree(sorted(case_level.values(), key=lambda c: order[c.id]), "case", "  ")

    seen: dict[tuple, str] = {}
    for s in subjects:
        key = subject_key(s)
        own = [c for c in s.criteria if c.scope != "case"]
        head = (f"{click.style(subject_name(s), bold=True)}  requested {labels.procedure(s.requested)} → {styled(s.determination)}"
                if isinstance(s, LevelDecision) else f"{click.style(subject_name(s), bold=True)}  → {styled(s.determination)}")
        out += ["", head]
        out += _tree(own, key, "  ", seen if isinstance(s, LevelDecision) else None)
        if s.determination == "not_addressed":
            out.append("  ? the policy has no criterion for this: refer for manual review")
        elif isinstance(s, LevelDecision) and not own:
            out.append("  (decided on the case-level criteria alone)")
        # what would change it is in the summary above

    out += notes_lines(context)
    if verbose:
        from engine.presenting.shape import lines as shape_lines, shape_of

        shaped = [s for s in subjects if s.determination != "not_addressed"]
        if shaped:
            out += ["", click.style("the rule's shape, per level and item", bold=True)]
            for s in shaped:
                out += shape_lines(shape_of(decision, s, policy), "  ", mark=lambda st: mark(st) if st in MARK
                                   else click.style(WAIVED[0], fg=WAIVED[1]))
        reported = {(c.id, c.scope) for s in subjects for c in s.criteria}
        rest = [(cid, scope, st) for cid, scope, st in decision.statuses if (cid, scope) not in reported]
        if rest:
            out += ["", click.style("other criteria the policy evaluated (not on the way to any answer above)", bold=True)]
            titles = _titles(subjects)
            out += [f"  {mark(st)} {cid}{'' if scope == 'case' else ' at ' + labels.scope(scope)} {labels.status(st)}"
                    + (f": {titles[cid]}" if cid in titles else "")
                    for cid, scope, st in rest]
    return "\n".join(out).rstrip() + "\n"
