"""Every predicate a case becomes, declared once.

The emitter (facts.emit) can only build atoms through these declarations, the
``necessity vocab`` command prints them, and a test checks that every field of
the case model names predicates declared here (``emits`` metadata) and that
each declared predicate is emitted by some case: docs and code cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import clingo


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str  # level, constant, integer, tenths, percent, day, string, id


@dataclass(frozen=True)
class Predicate:
    name: str
    args: tuple[Arg, ...]
    meaning: str
    group: str

    @property
    def signature(self) -> str:
        return f"{self.name}/{len(self.args)}"

    def __call__(self, *values: clingo.Symbol) -> clingo.Symbol:
        if len(values) != len(self.args):
            raise TypeError(f"{self.signature} takes {len(self.args)} arguments, got {len(values)}")
        return clingo.Function(self.name, values)


def _p(group: str, name: str, args: str, meaning: str) -> Predicate:
    parsed = tuple(Arg(*part.split(":")) for part in args.split()) if args else ()
    return Predicate(name, parsed, meaning, group)


# Argument kinds, as the vocab command explains them.
ARG_KINDS = {
    "level": 'spinal level as a string, e.g. "L4-L5", "T12-L1", "S1-pelvis"',
    "constant": "a constant from the case model's closed vocabulary",
    "state": "yes (documented true) or no (documented false); absent when not documented",
    "integer": "a whole number",
    "tenths": "a measurement in tenths of its unit: 3.5 mm is 35, T-score -2.5 is -25",
    "percent": "a percentage in tenths: 50% is 500, 74.5% is 745",
    "day": "a date as days since 1970-01-01 (see calendar_date/4); a date known only to the month is "
           "given as its first and last day",
    "days": "a duration in days (a week is 7)",
    "string": "free text, quoted",
    "id": "a number identifying an entry within this case (study, episode, curve...)",
    "term": "a term naming a list of the record, e.g. care_episodes or stenosis(\"L4-L5\",1)",
}

PREDICATES: tuple[Predicate, ...] = (
    # -- anatomy: the same for every case -------------------------------
    _p("anatomy", "spinal_level", "level:level order:integer",
       "a level the vocabulary knows, numbered cranial to caudal"),
    _p("anatomy", "thoracolumbar_level", "level:level",
       "a thoracic or thoracolumbar-junction level (T10-T11 to T12-L1)"),
    _p("anatomy", "sacropelvic_level", "level:level",
       "the sacropelvic fixation segment S1-pelvis"),
    _p("anatomy", "approach_direction", "approach:constant direction:constant",
       "the column a fusion approach reaches: anterior, lateral or posterior"),
    _p("anatomy", "calendar_date", "day:day year:integer month:integer dom:integer",
       "the calendar reading of a day number used in this case"),
    # -- request ---------------------------------------------------------
    _p("request", "request_date", "earliest:day latest:day",
       "the date of the request: earliest and latest day it can be (equal when the day is known)"),
    _p("request", "requested_setting", "setting:constant", "inpatient or outpatient"),
    _p("request", "requested", "level:level procedure:constant",
       "the surgeon requests decompression or fusion at the level"),
    _p("request", "decompression_technique", "level:level technique:constant",
       "laminectomy, laminotomy or foraminotomy planned at the level"),
    _p("request", "planned_facet_resection", "level:level side:constant pct:percent",
       "planned resection of the facet on that side, in percent"),
    _p("request", "planned_pars_resection", "level:level state:state",
       "whether the plan resects the pars at the level"),
    _p("request", "planned_corpectomy", "level:level pct:percent",
       "planned resection of the vertebral body at the level"),
    _p("request", "fusion_approach", "level:level approach:constant",
       "an approach planned for the fusion at the level (alif, llif, tlif, plif, posterolateral)"),
    _p("request", "fusion_instrumentation", "level:level state:state",
       "whether the fusion at the level is instrumented"),
    _p("request", "requested_item", "item:constant where:level",
       'an item requested at a level, or case-wide (where = "case")'),
    _p("request", "requested_item_side", "item:constant side:constant",
       "the side of a lateralised item (SI joint fusion)"),
    _p("request", "requested_item_source", "item:constant source:constant",
       "where an autograft is harvested: iliac_crest or local_bone"),
    # -- imaging ---------------------------------------------------------
    _p("imaging", "imaging_study", "study:id type:constant", "an imaging study and its type"),
    _p("imaging", "imaging_date", "study:id earliest:day latest:day",
       "the date of an imaging study: earliest and latest day it can be (equal when the day is known)"),
    _p("imaging", "stenosis", "level:level zone:constant side:constant grade:constant study:id",
       "stenosis at the level: zone central/lateral_recess/foraminal/unspecified, "
       "side left/right/bilateral/unspecified, "
       "grade none..severe or ungraded when reported without a grade"),
    _p("imaging", "level_finding", "level:level finding:constant state:state study:id",
       "a yes/no imaging finding at the level: spondylolisthesis, disc_herniation, disc_bulge, "
       "disc_height_loss, modic_change, facet_arthropathy, pseudarthrosis, and dynamic_instability "
       "(instability reported, or reported absent, on films taken in two positions)"),
    _p("imaging", "spondylolisthesis_grade", "level:level grade:integer study:id", "Meyerding grade 1-5"),
    _p("imaging", "spondylolisthesis_slip", "level:level mm:tenths study:id", "slip distance"),
    _p("imaging", "spondylolisthesis_type", "level:level type:constant study:id",
       "degenerative, isthmic or iatrogenic"),
    _p("imaging", "spondylolisthesis_direction", "level:level direction:constant study:id",
       "anterolisthesis or retrolisthesis"),
    _p("imaging", "modic_type", "level:level type:integer study:id", "Modic type 1-3"),
    _p("imaging", "dynamic_translation", "level:level mm:tenths study:id",
       "translation between positions (flexion-extension or supine-standing)"),
    _p("imaging", "dynamic_angulation", "level:level deg:tenths study:id",
       "angulation between flexion and extension"),
    _p("imaging", "cobb_curve", "curve:id deg:tenths study:id", "a measured Cobb angle"),
    _p("imaging", "cobb_curve_level", "curve:id level:level", "a level inside the curve's end levels"),
    _p("imaging", "sagittal_vertical_axis", "mm:tenths study:id", "measured SVA"),
    _p("imaging", "pi_ll_mismatch", "deg:tenths study:id", "pelvic incidence minus lumbar lordosis"),
    _p("imaging", "coronal_imbalance", "mm:tenths study:id", "measured coronal imbalance"),
    _p("imaging", "alignment_description", "study:id text:string",
       "alignment described in words without a measurement"),
    # -- clinical --------------------------------------------------------
    _p("clinical", "finding", "finding:constant state:state",
       "a yes/no clinical or history finding: radiculopathy, neurogenic_claudication, motor_weakness, "
       "sensory_deficit, reflex_change, myelopathy, bowel_bladder_dysfunction, cauda_equina_syndrome, "
       "tumor, infection, fracture, adl_limitation, discogenic_pain, diabetes, osteoporosis, "
       "sacroiliitis_on_imaging, si_joint_diagnosis_confirmed, behavioural_health_screening, "
       "alcohol_use_disorder, poor_graft_bed, autograft_unavailable"),
    _p("clinical", "limited_activity", "activity:string",
       "an activity of daily living the record names as limited"),
    _p("clinical", "concordant_level", "level:level",
       "a level whose imaging the record finds concordant with the symptoms"),
    _p("clinical", "radiculopathy_side", "side:constant", "side of the radiculopathy"),
    _p("clinical", "radiculopathy_root", "root:string", 'nerve root, e.g. "S1"'),
    _p("clinical", "radiculopathy_basis", "basis:constant", "clinical or emg"),
    _p("clinical", "radiculopathy_acuity", "acuity:constant", "acute or chronic"),
    _p("clinical", "motor_weakness_mrc", "grade:integer modifier:constant",
       "MRC grade 0-5 with modifier minus/plain/plus (4-/5 is 4, minus)"),
    _p("clinical", "motor_weakness_side", "side:constant", "side of the weakness"),
    _p("clinical", "motor_weakness_course", "course:constant", "progressive, stable or improving"),
    _p("clinical", "pain_score", "scale:constant score:tenths", "a pain score on a 0-10 scale (VAS or NRS)"),
    _p("clinical", "oswestry_disability_index", "pct:percent", "ODI"),
    # -- conservative care -----------------------------------------------
    _p("care", "care_episode", "episode:id modality:constant", "an episode of nonoperative care"),
    _p("care", "care_delivery", "episode:id delivery:constant",
       "how physical therapy was given: supervised_in_person, home_program or virtual"),
    _p("care", "care_start", "episode:id earliest:day latest:day",
       "start of the episode: earliest and latest day it can be (equal when the day is known)"),
    _p("care", "care_end", "episode:id earliest:day latest:day",
       "end of the episode: earliest and latest day it can be (equal when the day is known)"),
    _p("care", "care_days", "episode:id least:days most:days",
       "length of the episode, between least and most days: stated weeks times 7 (least = most), "
       "else from its start and end dates (apart when a date is known only to the month)"),
    _p("care", "care_sessions", "episode:id sessions:integer", "number of sessions"),
    _p("care", "care_source", "episode:id source:constant",
       "what documents the episode: pt_notes, claims, clinician_note or patient_report"),
    _p("care", "care_outcome", "episode:id outcome:constant",
       "failed, partial_relief, not_tolerated, ongoing or resolved"),
    _p("care", "conservative_care_total_days", "days:days",
       "the total span of nonoperative care, as stated by the record"),
    # -- history and risk ------------------------------------------------
    _p("history", "prior_surgery", "surgery:id type:constant region:constant", "a prior spine operation"),
    _p("history", "prior_surgery_level", "surgery:id level:level", "the level of a prior operation"),
    _p("history", "prior_surgery_date", "surgery:id earliest:day latest:day",
       "the date of a prior operation: earliest and latest day it can be (equal when the day is known)"),
    _p("history", "smoking_status", "status:constant", "current, former or never"),
    _p("history", "nicotine_free_days", "days:days", "time since the last nicotine"),
    _p("history", "cotinine", "ng_ml:tenths", "cotinine level"),
    _p("history", "hba1c", "pct:tenths", "HbA1c"),
    _p("history", "body_mass_index", "bmi:tenths", "BMI"),
    _p("history", "dexa_t_score", "score:tenths", "DEXA T-score (-2.5 is -25)"),
    _p("history", "inflammatory_arthropathy", "kind:constant status:constant",
       "an inflammatory arthropathy and how firmly it is established: suspected, confirmed, excluded"),
    _p("history", "inflammatory_arthropathy_si_joint", "kind:constant state:state",
       "whether the arthropathy involves the SI joint"),
    _p("history", "si_provocative_tests", "positive:integer performed:integer", "SI joint provocative tests"),
    _p("history", "si_diagnostic_block", "block:id relief:percent", "a diagnostic SI joint block and its relief"),
    # -- documentation of lists ------------------------------------------
    _p("record", "documented", "list:term",
       "the record gives this list, possibly empty: an absent entry then means documented absent"),
)

BY_NAME: dict[str, Predicate] = {p.name: p for p in PREDICATES}
SIGNATURES: frozenset[str] = frozenset(p.signature for p in PREDICATES)


def predicate(name: str) -> Predicate:
    return BY_NAME[name]
