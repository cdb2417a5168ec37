"""Reading evidence atoms back as sentences.

This only describes what the solver used; it decides nothing.  Measurements
arrive in tenths and are shown in their unit again; study and episode numbers
are replaced by what they refer to ("flexion-extension x-ray 2026-04-02").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from clingo import Symbol, SymbolType

from facts.emit import EPOCH
from facts.vocabulary import SIGNATURES

_STUDY_NAMES = {
    "mri": "MRI",
    "ct": "CT",
    "ct_myelogram": "CT myelogram",
    "xray": "x-ray",
    "flexion_extension_xray": "flexion-extension x-ray",
    "supine_standing_xray": "supine-standing x-ray",
    "standing_full_length": "standing full-length films",
}


_FINDING_NAMES = {
    "adl_limitation": "limitation of activities of daily living",
    "bowel_bladder_dysfunction": "bowel or bladder dysfunction",
    "si_joint_diagnosis_confirmed": "confirmed SI joint diagnosis",
    "sacroiliitis_on_imaging": "sacroiliitis on imaging",
    "nsaids": "NSAIDs",
}


def _words(sym: Symbol) -> str:
    if sym.type == SymbolType.String:
        return sym.string
    if sym.type == SymbolType.Number:
        return str(sym.number)
    return _FINDING_NAMES.get(str(sym), str(sym).replace("_", " "))


def _tenths(sym: Symbol) -> str:
    n = sym.number
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10)
    return f"{sign}{whole}" if frac == 0 else f"{sign}{whole}.{frac}"


def _day(sym: Symbol) -> str:
    return (EPOCH + dt.timedelta(days=sym.number)).isoformat()


def _date(first: Symbol, last: Symbol) -> str:
    """A date as the record wrote it: one day, or a whole month (``2024-12``), never an invented day."""
    a = EPOCH + dt.timedelta(days=first.number)
    b = EPOCH + dt.timedelta(days=last.number)
    if a == b:
        return a.isoformat()
    if a.day == 1 and (b.year, b.month) == (a.year, a.month) and (b + dt.timedelta(days=1)).month != b.month:
        return f"{a.year:04d}-{a.month:02d}"
    return f"between {a.isoformat()} and {b.isoformat()}"


def _weeks(days: int) -> str:
    weeks, rest = divmod(days, 7)
    return f"{weeks} weeks" if rest == 0 and weeks else f"{days} days"


def _length(least: Symbol, most: Symbol) -> str:
    if least.number == most.number:
        return _weeks(least.number)
    return f"{_weeks(least.number)} to {_weeks(most.number)}, by dates known only to the month"


#: What a documented list (of care, of blocks, of activities) does not hold, for ``absent(Name)``.
_FROM_LISTS = {
    "si_diagnostic_block": "the record's list of diagnostic SI blocks is empty",
    "care_episodes": "the record documents that no nonoperative care was given",
    "physical_therapy": "the record's list of nonoperative care holds no physical therapy",
    "supervised_physical_therapy":
        "the record's list of nonoperative care holds no supervised in-person physical therapy",
    "si_joint_injection": "the record's list of nonoperative care holds no SI joint injection",
    "complementary_modality": "the record's list of nonoperative care holds no modality beside physical therapy",
    "limited_activity": "the record's list of limited activities of daily living is empty",
}

#: The engine's own evidence terms, worded beside every predicate of the case vocabulary.
ENGINE_TERMS = frozenset({"study/1", "imprecise/1", "conflicting/1", "exclusion/1", "part/1", "determination/2",
                          "absent/1"})
#: What ``absent(X)`` words beside the vocabulary (a list's name alone is a constant: always words).
ABSENT_TERMS = frozenset({"stenosis/2", "prior_decompression/1", "prior_surgery/1", "prior_surgery_level/1",
                          "requested/2", "requested_item/2", "cobb_curves/1", "concordant_level/1"})
#: The words of a documented list (``documented(X)``).
_LISTS = {
    "imaging": "the record lists its imaging studies",
    "limited_activities": "the record lists the limited activities of daily living",
    "concordant_levels": "the record lists the levels concordant with the symptoms",
    "pain_scores": "the record lists its pain scores",
    "care_episodes": "the record lists the nonoperative care given",
    "prior_surgeries": "the record lists its prior spine surgery",
    "si_diagnostic_blocks": "the record lists its diagnostic SI blocks",
}
_BASIS = {"clinical": "clinical examination", "emg": "EMG"}


def signature_of(sym: Symbol) -> str:
    return f"{sym.name}/{len(sym.arguments)}"


def worded(signature: str) -> bool:
    """Whether a cited term of this ``name/arity`` reads as a sentence: every predicate of the case
    vocabulary, the engine's own terms, and any constant.  Anything else a policy cites is shown as
    the atom it is, which lint refuses (E309)."""
    return signature in SIGNATURES or signature in ENGINE_TERMS or signature.endswith("/0")


def _side(side: Symbol) -> str:
    return "bilaterally" if side.name == "bilateral" else f"on the {_words(side)} side"


#: How a sentence of an absence the engine has no better words for starts (engine/presenting/labels.py).
ABSENT_LEAD = "not in the record: "

_ANY_CASE: dict[Symbol, str] = {}  # sentences that depend on the term alone
_ANY_CASE_LIMIT = 100_000
_INDEXED = frozenset({"imaging_study", "imaging_date", "care_episode", "care_delivery", "care_start", "care_end",
                      "prior_surgery", "prior_surgery_level", "cobb_curve"})


class Describer:
    """Sentences for the atoms of one case."""

    def __init__(self, atoms: Iterable[Symbol]):
        self._atoms = atoms
        self._indexed = False
        self._said: dict[Symbol, str] = {}
        self._used_case = False
        self.studies: dict[int, str] = {}
        self.study_dates: dict[int, str] = {}
        self.episodes: dict[int, str] = {}
        self.delivery: dict[int, str] = {}
        self.surgery_levels: dict[int, str] = {}
        self.surgeries: dict[int, str] = {}
        self.care_dates: dict[tuple[str, int], str] = {}
        self.curves: dict[int, tuple[Symbol, Symbol]] = {}

    def _index(self) -> None:
        """Read the case's studies, episodes and surgeries, the first time a sentence needs them."""
        self._used_case = True
        if self._indexed:
            return
        self._indexed = True
        for a in self._atoms:
            name = a.name
            if name not in _INDEXED:
                continue
            args = a.arguments
            if name == "imaging_study":
                self.studies[args[0].number] = _STUDY_NAMES.get(args[1].name, _words(args[1]))
            elif name == "imaging_date":
                self.study_dates[args[0].number] = _date(args[1], args[2])
            elif name == "care_episode":
                self.episodes[args[0].number] = _words(args[1])
            elif name == "care_delivery":
                self.delivery[args[0].number] = _words(args[1])
            elif name == "prior_surgery_level":
                self.surgery_levels[args[0].number] = args[1].string
            elif name == "prior_surgery":
                self.surgeries[args[0].number] = _words(args[1])
            elif name in ("care_start", "care_end"):
                self.care_dates[(name, args[0].number)] = _date(args[1], args[2])
            elif name == "cobb_curve":
                self.curves[args[0].number] = (args[1], args[2])

    def study(self, sym: Symbol) -> str:
        self._index()
        sid = sym.number
        name = self.studies.get(sid, f"study {sid}")
        date = self.study_dates.get(sid)
        return f"{name} {date}" if date else name

    def episode(self, sym: Symbol) -> str:
        self._index()
        eid = sym.number
        name = self.episodes.get(eid, f"episode {eid}")
        how = self.delivery.get(eid)
        return f"{name} ({how})" if how else name

    def dated_episode(self, sym: Symbol, modality: Symbol) -> str:
        """An episode by its modality and dates: ``physical therapy (supervised in person), 2025-06-01 to
        2025-08-01``."""
        self._index()
        eid = sym.number
        name = self.episode(sym) if eid in self.episodes else _words(modality)
        start, end = self.care_dates.get(("care_start", eid)), self.care_dates.get(("care_end", eid))
        if start and end:
            return f"{name}, {start} to {end}"
        if start or end:
            return f"{name}, {'started ' + start if start else 'ended ' + end}"
        return f"{name}, dates not documented"

    def describe(self, sym: Symbol) -> str:
        """One sentence for an evidence term.

        Remembered for this case (a case cites one fact many times) and, when
        the sentence names no study, episode or surgery of this case, for
        every case (a batch cites the same facts again and again).
        """
        said = self._said.get(sym) or _ANY_CASE.get(sym)
        if said is None:
            self._used_case = False
            try:
                said = self._sentence(sym)
            except (RuntimeError, ValueError, IndexError):
                # a term of the vocabulary's name and arity built by a policy with arguments of
                # other kinds (a study named, not numbered): shown as it is, never a stopped decision
                said = str(sym)
            self._said[sym] = said
            if not self._used_case:
                if len(_ANY_CASE) >= _ANY_CASE_LIMIT:
                    _ANY_CASE.clear()
                _ANY_CASE[sym] = said
        return said

    def _sentence(self, sym: Symbol) -> str:  # noqa: C901 - one branch per predicate
        name, a = sym.name, sym.arguments
        if sym.type != SymbolType.Function:
            return _words(sym)
        if not worded(signature_of(sym)):
            return str(sym)  # a policy's own term: lint refuses it (E309)
        if name == "study" and len(a) == 1:
            return self.study(a[0])
        if name == "imprecise" and len(a) == 1:
            return f"{self.describe(a[0])}: the exact date would settle it"
        if name == "conflicting" and len(a) == 1:
            return (f"{self.describe(a[0])}: another study disagrees and their order is not documented; "
                    "the dates of the studies would settle which governs")
        if name == "stenosis":
            level, zone, side, grade, study = a
            where = " ".join(w for w in ("" if zone.name == "unspecified" else _words(zone),
                                        "" if side.name == "unspecified" else _words(side)) if w)
            graded = "stenosis, no grade reported" if grade.name == "ungraded" else f"{_words(grade)} stenosis"
            return f"{level.string} {where + ' ' if where else ''}{graded} ({self.study(study)})"
        if name == "level_finding":
            level, finding, state, study = a
            said = _words(finding) if state.name == "yes" else f"no {_words(finding)}"
            if finding.name == "dynamic_instability":
                said = ("instability reported, not measured" if state.name == "yes"
                        else "no instability on films in two positions")
            return f"{level.string} {said} ({self.study(study)})"
        if name == "dynamic_translation":
            return f"{a[0].string} translation {_tenths(a[1])} mm ({self.study(a[2])})"
        if name == "dynamic_angulation":
            return f"{a[0].string} angulation {_tenths(a[1])} degrees ({self.study(a[2])})"
        if name == "cobb_curve":
            return f"Cobb angle {_tenths(a[1])} degrees ({self.study(a[2])})"
        if name == "sagittal_vertical_axis":
            return f"SVA {_tenths(a[0])} mm ({self.study(a[1])})"
        if name == "pi_ll_mismatch":
            return f"PI-LL mismatch {_tenths(a[0])} degrees ({self.study(a[1])})"
        if name == "requested_item_side":
            return f"{_words(a[0])} requested on the {_words(a[1])} side" if a[1].name != "bilateral" else f"{_words(a[0])} requested bilaterally"
        if name == "coronal_imbalance":
            return f"coronal imbalance {_tenths(a[0])} mm ({self.study(a[1])})"
        if name == "alignment_description":
            return f"described, not measured: \"{a[1].string}\" ({self.study(a[0])})"
        if name == "finding":
            return _words(a[0]) + (" documented" if a[1].name == "yes" else " documented absent")
        if name == "motor_weakness_mrc":
            suffix = {"minus": "-", "plain": "", "plus": "+"}.get(a[1].name, "")
            return f"motor weakness MRC {a[0].number}{suffix}/5"
        if name == "motor_weakness_course":
            return f"motor weakness {_words(a[0])}"
        if name == "care_days":
            return f"{self.episode(a[0])}: {_length(a[1], a[2])}"
        if name == "care_outcome":
            return f"{self.episode(a[0])}: {_words(a[1])}"
        if name == "care_sessions":
            n = a[1].number
            return f"{self.episode(a[0])}: {n} session" + ("" if n == 1 else "s")
        if name == "care_delivery":
            return f"{self.episode(a[0])}: delivered as {_words(a[1])}"
        if name == "care_start":
            return f"{self.episode(a[0])} started {_date(a[1], a[2])}"
        if name == "care_end":
            return f"{self.episode(a[0])} ended {_date(a[1], a[2])}"
        if name == "conservative_care_total_days":
            return f"nonoperative care for {_weeks(a[0].number)} in total, as stated"
        if name == "planned_facet_resection":
            return f"{a[0].string} planned {_words(a[1])} facet resection {_tenths(a[2])}%"
        if name == "planned_pars_resection":
            return f"{a[0].string} pars resection " + ("planned" if a[1].name == "yes" else "not planned")
        if name == "prior_surgery":
            self._index()
            level = self.surgery_levels.get(a[0].number)
            return f"prior {_words(a[1])}" + (f" at {level}" if level else f" ({_words(a[2])})")
        if name == "dexa_t_score":
            return f"DEXA T-score {_tenths(a[0])}"
        if name == "si_diagnostic_block":
            return f"diagnostic SI block {a[0].number}: {_tenths(a[1])}% relief"
        if name == "inflammatory_arthropathy":
            return f"{_words(a[0])} {_words(a[1])}"
        if name == "inflammatory_arthropathy_si_joint":
            return f"{_words(a[0])} " + ("involves" if a[1].name == "yes" else "spares") + " the SI joint"
        if name == "requested_item":
            where = "" if a[1].type == SymbolType.Function else f" at {a[1].string}"
            return f"{_words(a[0])} requested{where}"
        if name == "fusion_approach":
            return f"{a[0].string} fusion by {str(a[1]).upper() if len(str(a[1])) == 4 else _words(a[1])}"
        if name == "care_source":
            return f"{self.episode(a[0])}: documented by {_words(a[1])}"
        if name == "planned_corpectomy":
            return f"{a[0].string} planned corpectomy {_tenths(a[1])}% of the vertebral body"
        if name == "requested_item_source":
            return f"{_words(a[0])} from the {_words(a[1])}"
        if name == "limited_activity":
            return f"limited activity: {a[0].string}"
        if name == "concordant_level":
            return f"{a[0].string} imaging concordant with the symptoms"
        if name == "pain_score":
            return f"{str(a[0]).upper()} pain {_tenths(a[1])}/10"
        if name == "oswestry_disability_index":
            return f"ODI {_tenths(a[0])}%"
        if name == "smoking_status":
            return f"smoking status: {_words(a[0])}"
        if name == "nicotine_free_days":
            return f"nicotine-free for {_weeks(a[0].number)}"
        if name == "cotinine":
            return f"cotinine {_tenths(a[0])} ng/mL"
        if name == "hba1c":
            return f"HbA1c {_tenths(a[0])}%"
        if name == "si_provocative_tests":
            return f"{a[0].number} of {a[1].number} SI provocative tests positive"
        if name == "spondylolisthesis_grade":
            return f"{a[0].string} Meyerding grade {a[1].number} ({self.study(a[2])})"
        if name == "spondylolisthesis_type":
            return f"{a[0].string} {_words(a[1])} spondylolisthesis ({self.study(a[2])})"
        if name == "imaging_date":
            return f"{self.study(a[0])}"
        if name == "request_date":
            return f"request dated {_date(a[0], a[1])}"
        if name == "thoracolumbar_level":
            return f"{a[0].string} is a thoracolumbar level"
        if name == "determination":
            if a[1].name == "fusion":
                return f"fusion justified at {a[0].string}"
            return f"fusion not justified at {a[0].string} (determination: {_words(a[1])})"
        if name == "exclusion":
            return a[0].string
        if name == "part":
            return f"{a[0].string} not met"
        if name == "parts":
            return "every part met"
        if name == "absent":
            return self._absent(a[0])
        return self._more(sym)

    def _more(self, sym: Symbol) -> str:  # noqa: C901 - one branch per predicate
        """The rest of the vocabulary, which no shipped policy cites but any may."""
        name, a = sym.name, sym.arguments
        if name == "care_episode":
            return self.dated_episode(a[0], a[1])
        if name == "imaging_study":
            self._index()
            date = self.study_dates.get(a[0].number)
            kind = _STUDY_NAMES.get(a[1].name, _words(a[1]))
            return f"{kind} {date}" if date else f"{kind}, date not documented"
        if name == "spinal_level":
            return f"{a[0].string} is a spinal level"
        if name == "sacropelvic_level":
            return f"{a[0].string} is the sacropelvic fixation segment"
        if name == "approach_direction":
            approach = str(a[0]).upper() if len(str(a[0])) == 4 else _words(a[0])
            return f"{approach} reaches the {_words(a[1])} column"
        if name == "calendar_date":
            return _day(a[0])
        if name == "requested_setting":
            return f"{_words(a[0])} setting requested"
        if name == "requested":
            return f"{_words(a[1])} requested at {a[0].string}"
        if name == "decompression_technique":
            return f"{a[0].string} {_words(a[1])} planned"
        if name == "fusion_instrumentation":
            return f"{a[0].string} fusion " + ("instrumented" if a[1].name == "yes" else "not instrumented")
        if name == "spondylolisthesis_slip":
            return f"{a[0].string} slip {_tenths(a[1])} mm ({self.study(a[2])})"
        if name == "spondylolisthesis_direction":
            return f"{a[0].string} {_words(a[1])} ({self.study(a[2])})"
        if name == "modic_type":
            return f"{a[0].string} Modic type {a[1].number} changes ({self.study(a[2])})"
        if name == "cobb_curve_level":
            self._index()
            curve = self.curves.get(a[0].number)
            measured = f" of {_tenths(curve[0])} degrees ({self.study(curve[1])})" if curve else ""
            return f"{a[1].string} lies within a curve{measured}"
        if name == "radiculopathy_side":
            return f"radiculopathy {_side(a[0])}"
        if name == "radiculopathy_root":
            return f"radiculopathy of the {a[0].string} root"
        if name == "radiculopathy_basis":
            return f"radiculopathy established by {_BASIS.get(a[0].name, _words(a[0]))}"
        if name == "radiculopathy_acuity":
            return f"{_words(a[0])} radiculopathy"
        if name == "motor_weakness_side":
            return f"motor weakness {_side(a[0])}"
        if name in ("prior_surgery_level", "prior_surgery_date"):
            self._index()
            what = f"prior {self.surgeries.get(a[0].number, 'spine surgery')}"
            if name == "prior_surgery_level":
                return f"{what} at {a[1].string}"
            return f"{what} dated {_date(a[1], a[2])}"
        if name == "body_mass_index":
            return f"BMI {_tenths(a[0])}"
        if name == "documented":
            listed = a[0]
            if listed.type == SymbolType.Function and not listed.arguments and listed.name in _LISTS:
                return _LISTS[listed.name]
            if listed.type == SymbolType.Function and signature_of(listed) == "stenosis/2":
                return f"{self.study(listed.arguments[1])} reports on stenosis at {listed.arguments[0].string}"
            if listed.type == SymbolType.Function and signature_of(listed) == "cobb_curves/1":
                return f"{self.study(listed.arguments[0])} reports its curves"
            return f"the record lists its {_words(listed)}"
        return str(sym)

    def _absent(self, sym: Symbol) -> str:
        """A sentence for what a documented list or record says is not there."""
        name, a = sym.name, sym.arguments
        if sym.type != SymbolType.Function or (a and signature_of(sym) not in ABSENT_TERMS):
            return ABSENT_LEAD + self.describe(sym)
        if name == "stenosis":
            return f"{self.study(a[1])} reports no stenosis at {a[0].string}"
        if name in ("prior_decompression", "prior_surgery", "prior_surgery_level"):
            what = "decompression" if name == "prior_decompression" else "surgery"
            if not self._any("prior_surgery"):
                return f"the surgical history documents no prior spine surgery, so no prior {what} at {a[0].string}"
            return f"the surgical history documents no prior {what} at {a[0].string}"
        if name == "requested":
            return f"{_words(a[1])} is not requested at {a[0].string}"
        if name == "requested_item":
            # A graft named for "any bone graft" (the reference's allograft) reads as such
            # when the request holds none; otherwise the item itself is what is missing.
            grafts = ("allograft", "autograft")
            if a[0].name in grafts and not self._any("requested_item", lambda s: s.arguments[0].name in grafts):
                return "no bone graft is requested"
            return f"no {_words(a[0])} is requested"
        if not a and name in _FROM_LISTS:
            return _FROM_LISTS[name]
        if name == "cobb_curves":
            return f"{self.study(a[0])} measures no curve"
        if name == "concordant_level":
            return f"{a[0].string} is not among the levels the record finds concordant with the symptoms"
        return ABSENT_LEAD + _words(sym)

    def _any(self, name: str, where=lambda _atom: True) -> bool:
        """Whether the case has an atom ``name`` (that ``where`` accepts)."""
        self._used_case = True
        return any(a.name == name and where(a) for a in self._atoms)
