"""Where two policies disagree, found by the solver.

One program holds the bounded case space, policy A's copy (``a__``) and
policy B's (``b__``), both built by engine/analysing/analysis.py: they meet only on the
generated case, and a case on which either has no answer is a model, flagged.

The search asks questions, each one solve under an assumption, and each
answered in well under a second:

* per request kind (a level requested for decompression, fusion or both; an
  item at its place), does some case get more from A than from B, more from
  B than from A, or a determination of another kind (``not_addressed``)?
* does some case get an answer from one policy and none from the other?

The answers make the summary: per kind, B is equivalent to A, narrower,
broader or incomparable.  Each "yes" comes with a witness, made small (the
fewest documented facts among those the first model had), written as a case
file, emitted again by the real emitter (the atoms must match exactly) and
decided by both policies through the ordinary engine; only a difference that
survives is reported.  Further witnesses for the same question must differ
by their cause: what the policy that decided higher found met, and what the
other refuted, at the tier that decided it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clingo import Function, String, Symbol

from engine.analysing.analysis import Analysis, Gaps, answers_differ_rules, gaps_meanwhile
from engine.deciding.decision import Decision
from engine.deciding.errors import PolicyError, UserError
from engine.authoring.golden import subjects
from engine.deciding.policy import Policy
from engine.deciding.search import Search
from engine.deciding.solver import Engine
from engine.analysing.sample import Refutation, diff_refutations
from engine.analysing.space import Bounds
from engine.analysing.witness import round_trip_mismatch, to_case
from engine.deciding.transform import VIOLATED
from facts import anatomy, case_atoms, parse_case
from facts.vocabulary import PREDICATES

#: What a level request asks for, as the summary names it.
LEVEL_KINDS = ("decompression", "fusion", "both")
DIRECTIONS = ("a", "b", "kind")  # A grants more, B grants more, a determination of another kind

DIFF_RULES = f"""
no_answer(a) :- a__{VIOLATED}.
no_answer(b) :- b__{VIOLATED}.
answered :- not no_answer(a), not no_answer(b).
level_kind(L, decompression) :- requested(L, decompression), not requested(L, fusion).
level_kind(L, fusion) :- requested(L, fusion), not requested(L, decompression).
level_kind(L, both) :- requested(L, decompression), requested(L, fusion).
kind(decompression; fusion; both).
item_place(case).
item_place(L) :- space_level(L).
item_name(I) :- value(item, I).
item_name(inpatient_setting).

% Which policy grants more.  A determination without a rank (not_addressed)
% differs in kind.
rank(none, 0). rank(decompression_only, 1). rank(fusion, 2).
rank(not_medically_necessary, 0). rank(medically_necessary, 1).
determined(level(L), D1, D2) :- a__determination(L, D1), b__determination(L, D2), D1 != D2.
determined(item(I, W), D1, D2) :- a__item_determination(I, W, D1), b__item_determination(I, W, D2), D1 != D2,
    not only_one_addresses(I).
higher(X, a) :- determined(X, D1, D2), rank(D1, R1), rank(D2, R2), R1 > R2.
higher(X, b) :- determined(X, D1, D2), rank(D1, R1), rank(D2, R2), R2 > R1.
higher(X, kind) :- determined(X, D1, _), not rank(D1, _).
higher(X, kind) :- determined(X, _, D2), not rank(D2, _).

found(level(L, K), P) :- level_kind(L, K), higher(level(L), P), answered.
found(item(I, W), P) :- higher(item(I, W), P), answered.
found(answers, a) :- no_answer(b), not no_answer(a).
found(answers, b) :- no_answer(a), not no_answer(b).

#external ask(level(L, K), P) : space_level(L), kind(K), P = (a; b; kind).
#external ask(item(I, W), P) : item_name(I), item_place(W), P = (a; b; kind).
#external ask(answers, P) : P = (a; b).
:- ask(X, P), not found(X, P).
% The same question in any direction: a "no" answers three questions in one proof.
#external ask_any(level(L, K)) : space_level(L), kind(K).
#external ask_any(item(I, W)) : item_name(I), item_place(W).
#external ask_any(answers).
:- ask_any(X), not found(X, _).
subject(level(L), level(L, K)) :- level_kind(L, K).
subject(item(I, W), item(I, W)) :- item_name(I), item_place(W).

% The cause of a difference: at the tier that decides it (fusion against
% decompression is decided by fusion criteria), the criteria each policy found
% met or refuted on documented findings.  What is merely undocumented is not a
% cause: a smaller record would leave it out anyway.
decisive_tier(X, T1) :- determined(X, D1, D2), X = level(_), a__tier(D1, T1), a__tier(D2, T2), T1 >= T2.
decisive_tier(X, T2) :- determined(X, D1, D2), X = level(_), a__tier(D1, T1), a__tier(D2, T2), T2 > T1.
a__cause(X, C, St) :- decisive_tier(X, T), a__report(X, C, S), a__status(C, S, St), St != not_documented, a__bears(C, T).
b__cause(X, C, St) :- decisive_tier(X, T), b__report(X, C, S), b__status(C, S, St), St != not_documented, b__bears(C, T).
a__cause(X, C, St) :- determined(X, _, _), X = item(_, _), a__report(X, C, S), a__status(C, S, St), St != not_documented.
b__cause(X, C, St) :- determined(X, _, _), X = item(_, _), b__report(X, C, S), b__status(C, S, St), St != not_documented.
% What the policy that decided higher found met, and what the other refuted.
cause_met(K, C) :- subject(X, K), higher(X, a), a__cause(X, C, met).
cause_met(K, C) :- subject(X, K), higher(X, b), b__cause(X, C, met).
cause_refuted(K, C) :- subject(X, K), higher(X, a), b__cause(X, C, not_met).
cause_refuted(K, C) :- subject(X, K), higher(X, b), a__cause(X, C, not_met).
% A difference that one policy refutes on a documented finding (grade I
% documented, a current smoker) says more than one that only wants more
% documentation: such witnesses are asked for first.
#external refuted_first.
refutation(K) :- cause_refuted(K, _).
:- refuted_first, ask(X, _), X != answers, not refutation(X).
"""


@dataclass(frozen=True)
class Difference:
    subject: str  # "L4-L5" or "rhbmp2" / "interbody_device@L4-L5", or "answers"
    a: str
    b: str


@dataclass(frozen=True)
class Question:
    kind: str  # "level", "item" or "answers"
    subject: str  # "L4-L5", "rhbmp2", "interbody_device@L4-L5"; "" for answers
    request: str  # "decompression", "fusion", "both" for a level; "" otherwise
    direction: str  # "a": A grants more (B narrower); "b": B grants more; "kind": another kind

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.subject, self.request)

    def label(self) -> str:
        if self.kind == "answers":
            return "an answer at all"
        if self.kind == "level":
            what = {"both": "decompression and fusion"}.get(self.request, self.request)
            return f"{self.subject} requesting {what}"
        return self.subject

    def symbol(self) -> Symbol:
        if self.kind == "answers":
            subject = Function("answers")
        elif self.kind == "level":
            subject = Function("level", [String(self.subject), Function(self.request)])
        else:
            item, _, where = self.subject.partition("@")
            subject = Function("item", [Function(item), String(where) if where else Function("case")])
        return Function("ask", [subject, Function(self.direction)])


@dataclass
class Witness:
    case: dict
    question: Question
    differences: list[Difference]
    decision_a: Decision | None
    decision_b: Decision | None
    facts: int
    cause_met: tuple[str, ...] = ()
    cause_refuted: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()  # the measurements and dates behind the cause, in words
    #: explain's account under the policy that decided lower: the criteria in the way, marked as explain marks them
    blocked: tuple[str, ...] = ()
    figures_higher: tuple[str, ...] = ()  # the evidence behind the cause, by the policy that holds it
    figures_lower: tuple[str, ...] = ()
    error_a: str = ""  # "the policy gives 0 answers" when A has no answer
    error_b: str = ""


@dataclass
class DiffResult:
    a: str
    b: str
    a_version: str = ""
    b_version: str = ""
    bounds: Bounds | None = None
    gaps: tuple[Gaps, ...] = ()
    questions: list[tuple[Question, bool]] = field(default_factory=list)  # every question answered
    witnesses: list[Witness] = field(default_factory=list)
    several: list[tuple[str, dict | None]] = field(default_factory=list)  # (policy id, witness) per unstratified policy
    complete: bool = False  # every question answered and every cause enumerated
    problems: list[str] = field(default_factory=list)
    #: items that one policy has criteria for and the other does not (always differ)
    unaddressed: list[tuple[str, str]] = field(default_factory=list)  # (item, policy id that addresses it)
    stopped: str = ""  # why the search ended early: --max, a time or memory limit
    #: the second line of defence: how many cases no search chose were decided, and those that refute a "no"
    sampled: int = 0
    refuted: list[Refutation] = field(default_factory=list)

    def add(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "sampled":
            self.sampled, self.refuted = event[1], list(event[2])
        elif kind == "bounds":
            self.bounds, self.unaddressed = event[1], event[2]
        elif kind == "gaps":
            self.gaps = event[1]
        elif kind == "question":
            self.questions.append((event[1], event[2]))
        elif kind == "witness":
            self.witnesses.append(event[1])
        elif kind == "several":
            self.several.append((event[1], event[2]))
        elif kind == "problem":
            self.problems.append(event[1])
        elif kind == "end":
            self.complete, self.stopped = event[1], event[2]

    @property
    def differs(self) -> bool:
        return bool(self.witnesses or self.unaddressed or any(w for _, w in self.several) or self.refuted)

    @property
    def proved(self) -> bool:
        """No difference, and nothing the search cannot vouch for."""
        return not self.differs and self.complete and not any(g.answers_unproved for g in self.gaps) \
            and all(w is None for _, w in self.several) and self.sampled > 0

    def relation(self, kind: str, subject: str, request: str) -> str:
        """B against A for one request kind: equivalent, narrower, broader, incomparable, or unknown."""
        answered = {q.direction: found for q, found in self.questions if q.key == (kind, subject, request)}
        for r in self.refuted:  # a sampled case shows what the search said no case does
            if r.key[0] == (kind, subject, request):
                answered[r.key[1]] = True
        if len(answered) < (2 if kind == "answers" else 3):
            return "unknown"
        a, b, other = answered.get("a", False), answered.get("b", False), answered.get("kind", False)
        if other or (a and b):
            return "incomparable"
        if a:
            return "narrower"
        if b:
            return "broader"
        return "equivalent"

    def kinds(self) -> list[tuple[str, str, str]]:
        return list(dict.fromkeys(q.key for q, _ in self.questions))


def compare(decision_a: Decision, decision_b: Decision) -> list[Difference]:
    """Every requested level or item that the two decisions determine differently."""
    a, b = subjects(decision_a), subjects(decision_b)
    out = []
    for key in a:
        if key in b and a[key].determination != b[key].determination:
            out.append(Difference(key, a[key].determination, b[key].determination))
    return out


def addressed_items(policy: Policy) -> set[str]:
    """Items a policy declares a criterion for, by a fact ``scope(C, item(I)).``"""
    out = set()
    for stm in policy.statements:
        text = str(stm)
        if text.startswith("scope(") and ",item(" in text and not list(getattr(stm, "body", [])):
            out.add(text.split(",item(", 1)[1].split(")", 1)[0])
    return out


def _scoped_items(policy: Policy) -> set[str]:
    """Items any rule head of the policy scopes a criterion to, with a body or without."""
    out = set()
    for stm in policy.statements:
        text = str(stm)
        if text.startswith("scope(") and ",item(" in text:
            out.add(text.split(",item(", 1)[1].split(")", 1)[0])
    return out


def questions(bounds: Bounds, skip_items: set[str]) -> list[Question]:
    out = [Question("answers", "", "", d) for d in ("a", "b")]
    for level in bounds.levels:
        kinds = ("fusion",) if level == "S1-pelvis" else LEVEL_KINDS
        for k in kinds:
            out += [Question("level", level, k, d) for d in DIRECTIONS]
    items = [i for i in bounds.domains["item"].values] + ["inpatient_setting"]
    for item in items:
        if item in skip_items:
            continue
        places = [""] if item == "inpatient_setting" else ["", *bounds.levels]
        for where in places:
            subject = f"{item}@{where}" if where else item
            out += [Question("item", subject, "", d) for d in DIRECTIONS]
    return out


def _figures(decision: Decision | None, subject: str, criteria: set[str]) -> list[str]:
    """The evidence of the causing criteria that states a measurement, a length or a date."""
    if decision is None:
        return []
    found = subjects(decision).get(subject)
    out = []
    for c in getattr(found, "criteria", ()):
        if c.id in criteria:
            ids = set(criteria) | {c.id}
            out += [e.text for e in c.evidence
                    if any(ch.isdigit() for ch in " ".join(w for w in e.text.split() if w not in ids))]
    return out


class _Confirm:
    """Re-decides a witness under both policies through the ordinary engine."""

    def __init__(self, a: Policy, b: Policy):
        self.engines = (Engine(a), Engine(b))

    def decide(self, case: Any) -> tuple[list[Decision | None], list[str]]:
        decisions: list[Decision | None] = []
        errors: list[str] = []
        for engine in self.engines:
            try:
                decisions.append(engine.decide(case, would_change=True))  # explain's account: what blocks
                errors.append("")
            except PolicyError as exc:
                decisions.append(None)
                errors.append(str(exc).rpartition(": ")[2] or str(exc))
        return decisions, errors


def _cause(model: tuple[Symbol, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    met = sorted({s.arguments[1].string for s in model if s.name == "cause_met"})
    refuted = sorted({s.arguments[1].string for s in model if s.name == "cause_refuted"})
    return tuple(met), tuple(refuted)


def diff(policy_a: Policy, policy_b: Policy, *, levels: tuple[str, ...] = ("L4-L5",), max_witnesses: int = 20,
         progress=None, only: Callable[[Question], bool] | None = None, sample_size: int | None = None) -> DiffResult:
    """The whole search, in this process (``only``: ask just the questions it accepts)."""
    result = DiffResult(policy_a.id, policy_b.id, policy_a.version, policy_b.version)
    for event in diff_events(policy_a, policy_b, levels=levels, max_witnesses=max_witnesses, only=only,
                             sample_size=sample_size):
        result.add(event)
        if progress is not None:
            progress(event)
    return result


def diff_events(policy_a: Policy, policy_b: Policy, *, levels: tuple[str, ...] = ("L4-L5",),
                max_witnesses: int = 20, only: Callable[[Question], bool] | None = None,
                sample_size: int | None = None) -> Iterator[tuple[Any, ...]]:
    """The search's events, and last the sample's (``sample_size`` generated records: engine/analysing/sample.py)."""
    analysis = Analysis([policy_a, policy_b], levels)
    items_a, items_b = addressed_items(policy_a), addressed_items(policy_b)
    unaddressed = sorted([(i, policy_a.id) for i in items_a - _scoped_items(policy_b)]
                         + [(i, policy_b.id) for i in items_b - _scoped_items(policy_a)])
    yield ("bounds", analysis.bounds, unaddressed)
    gaps_found = gaps_meanwhile([policy_a, policy_b], analysis.bounds.levels, analysis.bounds.approaches_per_level)
    only_one = "".join(f"only_one_addresses({i}).\n" for i, _ in unaddressed)
    shown = [p.signature for p in PREDICATES] + ["documentation_fact/1", "request_fact/1", "cause_met/2",
                                                  "cause_refuted/2"]
    search = analysis.search([("a__", policy_a), ("b__", policy_b)], DIFF_RULES + only_one, shown, share=True)
    confirm = _Confirm(policy_a, policy_b)
    candidates = search.atoms("documentation_fact", 1) + search.atoms("request_fact", 1)
    found = 0
    refuted_first = Function("refuted_first")
    # per question answered yes: whether its witnesses are still asked with a refutation first
    open_questions: dict[Question, bool] = {}

    def next_witness(q: Question) -> Iterator[tuple[Any, ...]]:
        nonlocal found
        model = None
        while model is None and q in open_questions:
            if open_questions[q]:
                model = search.first([q.symbol(), refuted_first])
                if model is None:
                    open_questions[q] = False
                    continue
            else:
                model = search.first([q.symbol()])
                if model is None:
                    del open_questions[q]
        if model is None:
            return
        witness = _witness(search, confirm, q, model, candidates, policy_a, policy_b, found + 1,
                           [refuted_first] if open_questions[q] else [])
        if isinstance(witness, str):
            yield ("problem", witness)
            del open_questions[q]
            return
        found += 1
        yield ("witness", witness)
        if not _forbid(search, q, witness):
            del open_questions[q]

    asked = [q for q in questions(analysis.bounds, {i for i, _ in unaddressed}) if only is None or only(q)]
    denied: list[tuple[tuple[str, str, str], str]] = []
    any_of: dict[tuple[str, str, str], bool] = {}
    for q in asked:
        if q.key not in any_of:
            any_of[q.key] = search.first([Function("ask_any", [q.symbol().arguments[0]])]) is not None
        model = search.first([q.symbol()]) if any_of[q.key] else None
        yield ("question", q, model is not None)
        if model is None:
            denied.append((q.key, q.direction))
        if model is not None:
            open_questions[q] = True
            if found < max_witnesses:  # every question is answered; witnesses stop at --max
                yield from next_witness(q)
    # further causes, a round over every question at a time, until --max
    while open_questions and found < max_witnesses:
        for q in list(open_questions):
            if found >= max_witnesses:
                break
            yield from next_witness(q)
    # what the search cannot vouch for: found meanwhile, the witnesses need none of it
    gaps = tuple(gaps_found())
    yield ("gaps", gaps)
    for policy, g in zip((policy_a, policy_b), gaps):
        if g.unstratified:
            yield ("several", policy.id, _several(analysis, policy))
    # the second line of defence: every "no" held against cases no search chose
    yield ("sampled", *diff_refutations(policy_a, policy_b, denied, sample_size))
    yield ("end", not open_questions, "--max" if open_questions else "")


def _witness(search: Search, confirm: _Confirm, q: Question, model: tuple[Symbol, ...], candidates: list[Symbol],
             policy_a: Policy, policy_b: Policy, n: int, extra: list[Symbol]) -> Witness | str:
    model = search.smallest([q.symbol(), *extra]) or model
    case_id = f"diff-{policy_a.id}-vs-{policy_b.id}-{n}"
    record = to_case(case_id, model)
    case = parse_case(json.dumps(record), f"{case_id} (generated)", fmt="json")
    mismatch = round_trip_mismatch(model, list(anatomy()) + list(case_atoms(case)))
    if mismatch:
        return f"{case_id}: the case file does not reproduce the searched facts: {sorted(mismatch)[:6]}"
    (da, db), (ea, eb) = confirm.decide(case)
    if q.kind == "answers":
        differences = [Difference("answers", "no answer" if ea else "an answer", "no answer" if eb else "an answer")]
        survived = bool(ea) != bool(eb)
    else:
        differences = compare(da, db) if da is not None and db is not None else []
        survived = any(d.subject == q.subject for d in differences)
    if not survived:
        return f"{case_id}: the solver's difference at {q.label()} did not survive re-deciding the case file"
    met, refuted = _cause(model)
    higher, lower = (da, db) if q.direction == "a" else (db, da)
    met = tuple(c for c in met if c not in _waived(higher, q.subject))  # a waived criterion is no cause
    blocked = _blocked(lower, q.subject) if q.direction in ("a", "b") else ()
    in_the_way = {b.split(" ", 1)[1] for b in blocked} or set(refuted)
    high_figures = tuple(dict.fromkeys(_figures(higher, q.subject, set(met))))
    low_figures = tuple(dict.fromkeys(_figures(lower, q.subject, in_the_way)))
    facts = sum(1 for s in model if s.name == "documentation_fact")
    return Witness(record, q, differences, da, db, facts, met, refuted,
                   tuple(dict.fromkeys(high_figures + low_figures)), blocked=blocked, figures_higher=high_figures,
                   figures_lower=low_figures, error_a=ea, error_b=eb)


def _waived(decision: Decision | None, subject: str) -> set[str]:
    found = subjects(decision).get(subject) if decision is not None else None
    return {c.id for c in getattr(found, "criteria", ()) if c.waived_by}


def _blocked(decision: Decision | None, subject: str) -> tuple[str, ...]:
    """The criteria explain shows blocking the subject, each with its mark (``✗ REF-D4b``, ``? PRM-C1``)."""
    from engine.presenting.terminal import MARK, blocking

    found = subjects(decision).get(subject) if decision is not None else None
    if found is None:
        return ()
    return tuple(f"{MARK.get(c.status, MARK['not_documented'])[0]} {c.id}" for c in blocking(decision, found))


def _forbid(search: Search, q: Question, witness: Witness) -> bool:
    """Ask for a witness with another cause: not these criteria met and these refuted (or more of either)."""
    if q.kind == "answers":
        return False  # one witness says it: a policy has no answer where the other has one
    subject = q.symbol().arguments[0]
    positive = [q.symbol()]
    positive += [Function("cause_met", [subject, String(c)]) for c in witness.cause_met]
    positive += [Function("cause_refuted", [subject, String(c)]) for c in witness.cause_refuted]
    if not witness.cause_met and not witness.cause_refuted:
        return False  # no cause to set aside: any other witness could be this one again
    return search.forbid(positive, [])


def _several(analysis: Analysis, policy: Policy) -> dict | None:
    """A case the policy gives several answers, when its rules allow it (two copies that disagree)."""
    rules = answers_differ_rules("a__", "c__", policy) + "\n:- not answers_differ.\n"
    search = analysis.search([("a__", policy), ("c__", policy)], rules, [p.signature for p in PREDICATES])
    model = search.first([])
    return to_case(f"several-answers-{policy.id}", model) if model is not None else None


def policy_at_revision(ref: str, workdir: Path) -> Path:
    """``reference@HEAD~1``: the policy folder as committed at a git revision, in ``workdir``."""
    import subprocess

    from engine.deciding.policy import resolve

    name, _, rev = ref.partition("@")
    if not rev or rev.startswith("-"):  # git would read it as an option
        raise UserError(f"{ref}: '{rev}' is not a git revision: give ID@REV with REV a commit, tag or branch "
                        "(HEAD~1, v2), or the path of a policy folder")
    folder = resolve(name)
    try:
        top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=True).stdout.strip()
        rel = folder.relative_to(Path(top).resolve())
        listing = subprocess.run(["git", "-C", top, "ls-tree", "-r", "--name-only", rev, "--", str(rel)],
                                 capture_output=True, text=True, check=True).stdout.split()
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise UserError(f"{ref}: cannot read policy {name} at revision {rev}: {detail.strip()}") from None
    if not listing:
        raise UserError(f"{ref}: revision {rev} has no files under {rel}")
    target = workdir / f"{folder.name}@{rev.replace('/', '_')}"
    for path in listing:
        if not path.endswith((".lp", ".yaml")):
            continue
        content = subprocess.run(["git", "-C", top, "show", f"{rev}:{path}"], capture_output=True, check=True).stdout
        out = target / Path(path).relative_to(rel)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content)
    return target
