"""A validated case becomes ASP atoms, through clingo's Symbol API only.

No text is ever pasted into a program: each atom is built with ``Function``,
``Number`` and ``String`` from a predicate declared in facts.vocabulary, so a
case id or a note cannot smuggle rules in.  The order of the atoms is fixed by
the order of the case file, so the same case always gives the same atoms.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from clingo import Function, Number, String, Symbol

from facts.model import Case, CaseDate, ImagingStudy, week_days
from facts.terms import APPROACH_DIRECTION, SACROPELVIC_LEVEL, SPINAL_LEVELS, THORACOLUMBAR_LEVELS
from facts.vocabulary import predicate as P

EPOCH = dt.date(1970, 1, 1)
YES, NO = Function("yes"), Function("no")
CASE_WIDE = Function("case")
UNSPECIFIED = Function("unspecified")


def const(value: object) -> Symbol:
    """An enum value (or any name from the closed vocabulary) as a constant."""
    return Function(getattr(value, "value", value))


def state(flag: bool) -> Symbol:
    return YES if flag else NO


def tenths(value: float) -> Symbol:
    """A one-decimal measurement as integer tenths; exact, never float-rounded."""
    return Number(int((Decimal(str(value)) * 10).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)))


def day_number(date: dt.date) -> int:
    return (date - EPOCH).days


def anatomy() -> list[Symbol]:
    """Facts about the vocabulary itself, identical for every case."""
    atoms = [P("spinal_level")(String(lv), Number(i + 1)) for i, lv in enumerate(SPINAL_LEVELS)]
    atoms += [P("thoracolumbar_level")(String(lv)) for lv in SPINAL_LEVELS if lv in THORACOLUMBAR_LEVELS]
    atoms.append(P("sacropelvic_level")(String(SACROPELVIC_LEVEL)))
    atoms += [P("approach_direction")(const(a), Function(d)) for a, d in APPROACH_DIRECTION.items()]
    return atoms


class _Emitter:
    def __init__(self) -> None:
        self.atoms: list[Symbol] = []
        self.days: dict[int, dt.date] = {}

    def add(self, name: str, *args: Symbol) -> None:
        self.atoms.append(P(name)(*args))

    def day(self, day: dt.date) -> Symbol:
        number = day_number(day)
        self.days[number] = day
        return Number(number)

    def dates(self, date: CaseDate) -> tuple[Symbol, Symbol]:
        """The earliest and latest day a date can be: one day, or every day of its month."""
        first, last = date.span
        return self.day(first), self.day(last)

    def finding(self, name: str, flag: bool | None) -> None:
        if flag is not None:
            self.add("finding", Function(name), state(flag))

    # -- sections ------------------------------------------------------------

    def request(self, case: Case) -> None:
        req = case.request
        if req.date is not None:
            self.add("request_date", *self.dates(req.date))
        if req.setting is not None:
            self.add("requested_setting", const(req.setting))
        for lv in req.levels:
            level = String(lv.level)
            if lv.decompression is not None:
                dec = lv.decompression
                self.add("requested", level, Function("decompression"))
                if dec.technique is not None:
                    self.add("decompression_technique", level, const(dec.technique))
                if dec.facet_resection_pct is not None:
                    for side in ("left", "right"):
                        pct = getattr(dec.facet_resection_pct, side)
                        if pct is not None:
                            self.add("planned_facet_resection", level, Function(side), tenths(pct))
                if dec.pars_resection is not None:
                    self.add("planned_pars_resection", level, state(dec.pars_resection))
                if dec.corpectomy_pct is not None:
                    self.add("planned_corpectomy", level, tenths(dec.corpectomy_pct))
            if lv.fusion is not None:
                self.add("requested", level, Function("fusion"))
                for approach in lv.fusion.approaches:
                    self.add("fusion_approach", level, const(approach))
                if lv.fusion.instrumentation is not None:
                    self.add("fusion_instrumentation", level, state(lv.fusion.instrumentation))
        for item in req.items:
            where = String(item.level) if item.level else CASE_WIDE
            self.add("requested_item", const(item.item), where)
            if item.side is not None:
                self.add("requested_item_side", const(item.item), const(item.side))
            if item.source is not None:
                self.add("requested_item_source", const(item.item), const(item.source))
        self.finding("poor_graft_bed", req.poor_graft_bed)
        self.finding("autograft_unavailable", req.autograft_unavailable)

    def imaging(self, case: Case) -> None:
        if case.imaging is None:
            return
        self.add("documented", Function("imaging"))
        curve_id = 0
        for sid, study in enumerate(case.imaging, start=1):
            curve_id = self.study(Number(sid), study, curve_id)

    def study(self, sid: Symbol, study: ImagingStudy, curve_id: int) -> int:
        self.add("imaging_study", sid, const(study.study))
        if study.date is not None:
            self.add("imaging_date", sid, *self.dates(study.date))
        for found in study.levels:
            level = String(found.level)
            if found.stenosis is not None:
                self.add("documented", Function("stenosis", [level, sid]))
                for st in found.stenosis:
                    zone = const(st.zone) if st.zone else UNSPECIFIED
                    side = const(st.side) if st.side else UNSPECIFIED
                    self.add("stenosis", level, zone, side, const(st.grade), sid)
            listhesis = found.spondylolisthesis
            if listhesis is not None:
                self.add("level_finding", level, Function("spondylolisthesis"), state(listhesis.present), sid)
                if listhesis.meyerding_grade is not None:
                    self.add("spondylolisthesis_grade", level, Number(listhesis.meyerding_grade), sid)
                if listhesis.slip_mm is not None:
                    self.add("spondylolisthesis_slip", level, tenths(listhesis.slip_mm), sid)
                if listhesis.type is not None:
                    self.add("spondylolisthesis_type", level, const(listhesis.type), sid)
                if listhesis.direction is not None:
                    self.add("spondylolisthesis_direction", level, const(listhesis.direction), sid)
            if found.translation_mm is not None:
                self.add("dynamic_translation", level, tenths(found.translation_mm), sid)
            if found.angulation_deg is not None:
                self.add("dynamic_angulation", level, tenths(found.angulation_deg), sid)
            for name in ("disc_herniation", "disc_bulge", "disc_height_loss", "facet_arthropathy", "pseudarthrosis",
                         "dynamic_instability"):
                flag = getattr(found, name)
                if flag is not None:
                    self.add("level_finding", level, Function(name), state(flag), sid)
            if found.modic_change is not None:
                self.add("level_finding", level, Function("modic_change"), state(found.modic_change.present), sid)
                if found.modic_change.type is not None:
                    self.add("modic_type", level, Number(found.modic_change.type), sid)
        align = study.alignment
        if align is not None:
            if align.cobb is not None:
                self.add("documented", Function("cobb_curves", [sid]))
                for curve in align.cobb:
                    curve_id += 1
                    cid = Number(curve_id)
                    self.add("cobb_curve", cid, tenths(curve.angle_deg), sid)
                    for lv in curve.segments:
                        self.add("cobb_curve_level", cid, String(lv))
            if align.sva_mm is not None:
                self.add("sagittal_vertical_axis", tenths(align.sva_mm), sid)
            if align.pi_ll_mismatch_deg is not None:
                self.add("pi_ll_mismatch", tenths(align.pi_ll_mismatch_deg), sid)
            if align.coronal_imbalance_mm is not None:
                self.add("coronal_imbalance", tenths(align.coronal_imbalance_mm), sid)
            for text in align.descriptions:
                self.add("alignment_description", sid, String(text))
        return curve_id

    def clinical(self, case: Case) -> None:
        cl = case.clinical
        if cl.radiculopathy is not None:
            rad = cl.radiculopathy
            self.finding("radiculopathy", rad.present)
            if rad.side is not None:
                self.add("radiculopathy_side", const(rad.side))
            if rad.root is not None:
                self.add("radiculopathy_root", String(rad.root))
            if rad.basis is not None:
                self.add("radiculopathy_basis", const(rad.basis))
            if rad.acuity is not None:
                self.add("radiculopathy_acuity", const(rad.acuity))
        if cl.motor_weakness is not None:
            mw = cl.motor_weakness
            self.finding("motor_weakness", mw.present)
            if mw.mrc is not None:
                self.add("motor_weakness_mrc", Number(mw.mrc.grade), const(mw.mrc.modifier))
            if mw.side is not None:
                self.add("motor_weakness_side", const(mw.side))
            if mw.course is not None:
                self.add("motor_weakness_course", const(mw.course))
        for name in (
            "neurogenic_claudication", "sensory_deficit", "reflex_change", "myelopathy",
            "bowel_bladder_dysfunction", "cauda_equina_syndrome", "tumor", "infection", "fracture",
            "adl_limitation", "discogenic_pain",
        ):
            self.finding(name, getattr(cl, name))
        if cl.limited_activities is not None:
            self.add("documented", Function("limited_activities"))
            for activity in cl.limited_activities:
                self.add("limited_activity", String(activity))
        if cl.concordant_levels is not None:
            self.add("documented", Function("concordant_levels"))
            for lv in cl.concordant_levels:
                self.add("concordant_level", String(lv))
        if cl.pain_scores is not None:
            self.add("documented", Function("pain_scores"))
            for score in cl.pain_scores:
                self.add("pain_score", const(score.scale), tenths(score.score))
        if cl.odi_pct is not None:
            self.add("oswestry_disability_index", tenths(cl.odi_pct))

    def care(self, case: Case) -> None:
        cc = case.conservative_care
        if cc.total_weeks is not None:
            self.add("conservative_care_total_days", Number(week_days(cc.total_weeks)))
        if cc.episodes is None:
            return
        self.add("documented", Function("care_episodes"))
        for eid, ep in enumerate(cc.episodes, start=1):
            e = Number(eid)
            self.add("care_episode", e, const(ep.modality))
            if ep.delivery is not None:
                self.add("care_delivery", e, const(ep.delivery))
            if ep.start is not None:
                self.add("care_start", e, *self.dates(ep.start))
            if ep.end is not None:
                self.add("care_end", e, *self.dates(ep.end))
            if ep.days is not None:
                self.add("care_days", e, Number(ep.days[0]), Number(ep.days[1]))
            if ep.sessions is not None:
                self.add("care_sessions", e, Number(ep.sessions))
            if ep.outcome is not None:
                self.add("care_outcome", e, const(ep.outcome))
            if ep.source is not None:
                self.add("care_source", e, const(ep.source))

    def history(self, case: Case) -> None:
        hx = case.history
        if hx.prior_surgeries is not None:
            self.add("documented", Function("prior_surgeries"))
            for sid, surgery in enumerate(hx.prior_surgeries, start=1):
                s = Number(sid)
                self.add("prior_surgery", s, const(surgery.type), const(surgery.region))
                if surgery.level is not None:
                    self.add("prior_surgery_level", s, String(surgery.level))
                if surgery.date is not None:
                    self.add("prior_surgery_date", s, *self.dates(surgery.date))
        if hx.smoking is not None:
            self.add("smoking_status", const(hx.smoking.status))
            if hx.smoking.nicotine_free_weeks is not None:
                self.add("nicotine_free_days", Number(week_days(hx.smoking.nicotine_free_weeks)))
            if hx.smoking.cotinine_ng_ml is not None:
                self.add("cotinine", tenths(hx.smoking.cotinine_ng_ml))
        if hx.diabetes is not None:
            self.finding("diabetes", hx.diabetes.present)
            if hx.diabetes.hba1c_pct is not None:
                self.add("hba1c", tenths(hx.diabetes.hba1c_pct))
        if hx.bmi is not None:
            self.add("body_mass_index", tenths(hx.bmi))
        if hx.bone_density is not None:
            if hx.bone_density.dexa_t_score is not None:
                self.add("dexa_t_score", tenths(hx.bone_density.dexa_t_score))
            self.finding("osteoporosis", hx.bone_density.osteoporosis)
        if hx.inflammatory_arthropathy is not None:
            ia = hx.inflammatory_arthropathy
            self.add("inflammatory_arthropathy", Function(ia.kind), const(ia.status))
            if ia.involves_si_joint is not None:
                self.add("inflammatory_arthropathy_si_joint", Function(ia.kind), state(ia.involves_si_joint))
        if hx.si_joint is not None:
            si = hx.si_joint
            if si.provocative_tests_positive is not None and si.provocative_tests_performed is not None:
                self.add("si_provocative_tests", Number(si.provocative_tests_positive),
                         Number(si.provocative_tests_performed))
            self.finding("sacroiliitis_on_imaging", si.sacroiliitis_on_imaging)
            self.finding("si_joint_diagnosis_confirmed", si.confirmed_diagnosis)
            if si.diagnostic_blocks is not None:
                self.add("documented", Function("si_diagnostic_blocks"))
                for bid, block in enumerate(si.diagnostic_blocks, start=1):
                    self.add("si_diagnostic_block", Number(bid), tenths(block.relief_pct))
        self.finding("behavioural_health_screening", hx.behavioural_health_screening)
        self.finding("alcohol_use_disorder", hx.alcohol_use_disorder)

    def calendar(self) -> None:
        for number in sorted(self.days):
            date = self.days[number]
            self.add("calendar_date", Number(number), Number(date.year), Number(date.month), Number(date.day))


def case_atoms(case: Case) -> tuple[Symbol, ...]:
    """The atoms of one case, without the anatomy facts (see ``anatomy``)."""
    em = _Emitter()
    em.request(case)
    em.imaging(case)
    em.clinical(case)
    em.care(case)
    em.history(case)
    em.calendar()
    return tuple(em.atoms)
