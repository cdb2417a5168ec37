"""A decision as a letter a provider's office can act on (Markdown).

Per requested service: the decision in plain words and the reason, with the
criteria that failed on a documented finding kept apart from those the
record is silent on; then the documentation to submit (what would change the
decision), apart from the findings the record contradicts; then every
citation.  Every sentence is built from the ``Decision``.
"""

from __future__ import annotations

from engine.presenting import labels
from engine.presenting.actions import WORDS as ACTION_WORDS, action_of, request_action
from engine.presenting.context import Context
from engine.deciding.decision import CONTRADICTED, CONTRADICTED_AND_DOCUMENTATION, DOCUMENTATION, CriterionResult, Decision, ItemDecision, LevelDecision, WouldChange
from engine.presenting.terminal import blocking, change_phrase, elsewhere, hidden, subject_key, subject_name


def md(text: str) -> str:
    """Text from a case or policy, made inert: it cannot change the letter's
    structure, and control characters or bidirectional overrides are written
    as visible escapes."""
    out = []
    for ch in text.replace("\r", " ").replace("\n", " "):
        if hidden(ch):
            out.append(ch.encode("unicode_escape").decode("ascii").replace("\\", "\\\\"))
        else:
            out.append("\\" + ch if ch in "\\`*_[]<>|#" else ch)
    return "".join(out)


def _asked(s: LevelDecision | ItemDecision) -> str:
    return labels.procedure(s.requested) if isinstance(s, LevelDecision) else md(labels.item(s.item))


def _verdict(s: LevelDecision | ItemDecision, action: str = "") -> str:
    """The decision on one service, in a provider's words; a pended one says it waits on documentation."""
    if action == "pend":
        return f"{_determined(s)} on the record as it stands; pended for the documentation below"
    return _determined(s)


def _determined(s: LevelDecision | ItemDecision) -> str:
    det = s.determination
    if det == "not_addressed":
        return "referred for manual review: the policy has no criterion for it"
    if isinstance(s, ItemDecision):
        return "approved" if det == "medically_necessary" else "not approved"
    if det == "fusion":
        return "approved as requested"
    if det == "decompression_only":
        if "fusion" in s.requested and "decompression" in s.requested:
            return "decompression approved; fusion not approved"
        if "fusion" in s.requested:
            return "fusion not approved (the policy would justify decompression only)"
        return "approved as requested"
    return "not approved"


def _lacks(c: CriterionResult) -> str:
    """What this record is silent on that the criterion reads (its formula's open leaves)."""
    return "; ".join(e.text for e in c.lacking)


def _cite(c: CriterionResult) -> str:
    return f"{c.id} ({md(c.title)})"


def _reason(decision: Decision, s: LevelDecision | ItemDecision) -> str:
    """One paragraph: why the service is not (fully) approved."""
    if s.determination in ("fusion", "medically_necessary") or s.determination == "not_addressed":
        return ""
    blockers = blocking(decision, s)
    titles = {c.id: c.title for x in (*decision.levels, *decision.items) for c in x.criteria}
    refuted = [c for c in blockers if c.status == "not_met"]
    silent = [c for c in blockers if c.status == "not_documented" and not c.unsettled]
    open_ = [c for c in blockers if c.status == "not_documented" and c.unsettled]
    sentences = []
    # only what this record is silent on is said not documented (labels.missing)
    lacking = [c for c in silent if c.lacking]
    needing = [c for c in silent if not c.lacking]
    sentences += [f"For {_cite(c)}, the record does not document {md(_lacks(c))}." for c in lacking]
    if needing:
        sentences.append("Not documented: " + "; ".join(
            f"{_cite(c)}" + (f", which needs {md(c.documentation)}" if c.documentation else "") for c in needing) + ".")
    if open_:
        sentences.append("The record leaves open " + "; ".join(
            f"{_cite(c)}: {'; '.join(md(labels.finding(e.text, e.atom)) for e in c.unsettled)}" for c in open_) + ".")
    if refuted:
        # "not met", then why: a documented finding ("mild stenosis") or a determination
        # the criterion rests on ("fusion not justified at L5-S1"), which is no finding
        sentences.append("Not met: " + "; ".join(
            f"{_cite(c)}: {'; '.join(md(labels.finding(e.text, e.atom, titles)) for e in c.evidence) or 'not met'}"
            for c in refuted) + ".")
    return " ".join(sentences)


def _criteria_block(criteria: list[CriterionResult], subject: str = "case",
                    titles: dict[str, str] | None = None) -> list[str]:
    groups = (
        ("Not met on a documented finding", [c for c in criteria if c.status == "not_met" and not c.waived_by]),
        ("Not documented (the record is silent)", [c for c in criteria if c.status == "not_documented" and not c.waived_by]),
        ("Waived", [c for c in criteria if c.waived_by]),
        ("Met", [c for c in criteria if c.status == "met"]),
    )
    lines: list[str] = []
    for title, group in groups:
        if not group:
            continue
        lines += [f"*{title}:*", ""]
        for c in group:
            scope = "" if c.scope in ("case", subject) else f" at {md(labels.scope(c.scope))}"
            if c.waived_by:
                why = f"waived by {c.waived_by}" + (f" ({md(titles[c.waived_by])})" if titles and c.waived_by in titles else "")
            elif c.status == "not_documented" and c.unsettled:
                why = "; ".join(md(labels.finding(e.text, e.atom)) for e in c.unsettled)
                why += f"; the record does not document {md(_lacks(c))}" if c.lacking else ""
                why += f"; what would settle it: {md(c.documentation)}" if c.documentation else ""
            elif c.status == "not_documented" and c.lacking:
                why = "the record does not document " + md(_lacks(c))
            elif c.status == "not_documented":
                why = f"needs {md(c.documentation)}" if c.documentation else "not documented"
            else:
                why = "; ".join(md(labels.finding(e.text, e.atom, titles)) for e in c.evidence)
            why += "".join(f"; superseded: {md(labels.finding(e.text, e.atom))}" for e in c.superseded)
            lines.append(f"- {c.id}{scope}, {md(c.title)}: {why}")
        lines.append("")
    return lines


def _change(w: WouldChange, subject: str, titles: dict[str, str]) -> str:
    def requirement(a, subject: str, with_status: bool) -> str:
        where = elsewhere(a.scope, subject)
        at = f" at {md(labels.scope(where))}" if where else ""
        title = f" ({md(titles[a.criterion])})" if a.criterion in titles else ""
        status = f", {labels.status(a.status)} now" if with_status else ""
        return f"{a.criterion}{title}{at}{status}"

    return change_phrase(w, subject, requirement, one_of="any one of", joined=False)


def _header(decision: Decision, context: Context | None) -> list[str]:
    """Identifiers first, as a letter carries them: member, provider, dates, codes."""
    if context is None:
        return []
    lines = [f"**{label}:** {md(value)}  " for label, value in context.identifiers]
    if context.codes:
        lines.append(f"**Service codes:** {md(', '.join(context.code_text))}  ")
    return lines



#: The sections of what-if lines that paperwork alone cannot satisfy: (kind, heading, lead sentence).
LETTER_SECTIONS = (
    (CONTRADICTED, "Findings the record contradicts",
     "These would change the decision only if the documented finding were different; "
     "further paperwork alone cannot change them."),
    (CONTRADICTED_AND_DOCUMENTATION, "Findings the record contradicts, and documentation to obtain",
     "These would change the decision only if a documented finding were different and the record "
     "documented what it does not; each criterion says which."),
)

def to_markdown(decision: Decision, level: str | None = None, context: Context | None = None) -> str:
    p = decision.policy
    levels = [lv for lv in decision.levels if level is None or lv.level == level]
    items = [it for it in decision.items if level is None or it.level == level]
    subjects: list[LevelDecision | ItemDecision] = [*levels, *items]
    titles = {c.id: c.title for s in (*decision.levels, *decision.items) for c in s.criteria}
    lines = [
        f"# Medical necessity determination: {md(decision.case)}",
        "",
        *_header(decision, context),
        f"**Policy:** {md(p.title or p.id)} ({md(p.id)} version {md(p.version)}, effective {md(p.effective)})  ",
        f"**Decision:** {labels.outcome(decision.outcome)}{labels.in_part(len(decision.undecided))}  ",
        f"**Review action:** {ACTION_WORDS[request_action(decision)]}",
        "",
    ]
    for n in decision.notices:
        lines += [f"> **Please note:** {md(n.text)}", ""]
    lines += ["## Decision by service", "", "| Service | Requested | Decision | Review action |", "|---|---|---|---|"]
    for s in subjects:
        lines.append(f"| {md(subject_name(s))} | {_asked(s)} | {_verdict(s, action_of(decision, s).code)} "
                     f"| {action_of(decision, s).words} |")

    reasons = [(s, _reason(decision, s)) for s in subjects]
    if any(text for _, text in reasons):
        lines += ["", "## Why", ""]
        for s, text in reasons:
            if text:
                lines += [f"**{md(subject_name(s))}** ({_verdict(s, action_of(decision, s).code)}): {text}", ""]

    documentation = [(s, w) for s in subjects for w in s.would_change if w.kind == DOCUMENTATION]
    if documentation:
        lines += ["## Documentation to submit", "",
                  "Documenting the criteria below would change the decision as shown.", ""]
        for s, w in documentation:
            lines.append(f"- {md(subject_name(s))}, {labels.determination(w.determination)}: "
                         f"{_change(w, subject_key(s), titles)}")
        wanted = _documentation_wanted(subjects, documentation)
        if wanted:
            lines += ["", "| Criterion | What to document |", "|---|---|"]
            lines += [f"| {cid} ({md(titles.get(cid, ''))}) | {md(text)} |" for cid, text in wanted]
        lines.append("")
    for kind, heading, lead in LETTER_SECTIONS:
        changes = [(s, w) for s in subjects for w in s.would_change if w.kind == kind]
        if changes:
            lines += [f"## {heading}", "", lead, ""]
            for s, w in changes:
                lines.append(f"- {md(subject_name(s))}, {labels.determination(w.determination)}: "
                             f"would need {_change(w, subject_key(s), titles)}")
            lines.append("")

    lines += ["## Criteria applied", ""]
    case_level: dict[str, CriterionResult] = {}
    for s in subjects:
        for c in s.criteria:
            if c.scope == "case":
                case_level.setdefault(c.id, c)
    if case_level:
        lines += ["### The whole case", ""]
        lines += _criteria_block(list(case_level.values()), "case", titles)
    for s in subjects:
        own = [c for c in s.criteria if c.scope != "case"]
        if own:
            lines += [f"### {md(subject_name(s))}", ""]
            lines += _criteria_block(own, subject_key(s), titles)

    cited: dict[str, str] = {}
    for s in subjects:
        for c in s.criteria:
            cited.setdefault(c.id, c.citation)
    if cited:
        lines += ["## Citations", ""]
        lines += [f"- {cid} ({md(titles.get(cid, ''))}): {md(cite)}" for cid, cite in cited.items()]
    if context is not None and context.appeal_rights:
        lines += ["", "## Your right to appeal", "", md(context.appeal_rights)]
    return "\n".join(lines).rstrip() + "\n"


def _documentation_wanted(subjects, documentation) -> list[tuple[str, str]]:
    """Each criterion named in documentation to obtain, once, with what the record must say."""
    texts: dict[str, str] = {}
    for s in subjects:
        for c in s.criteria:
            if c.documentation:
                texts.setdefault(c.id, c.documentation)
    out: dict[str, str] = {}
    for _, w in documentation:
        for a in (*w.requires, *w.one_of):
            if a.criterion in texts:
                out.setdefault(a.criterion, texts[a.criterion])
    return list(out.items())
