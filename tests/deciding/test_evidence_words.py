"""Every fact a policy can cite as evidence reads as words (issue 20, point 4).

A policy may cite any case fact as the evidence of a criterion, as docs/authoring.md allows:
``met(C, S, care_episode(E, M)) :- ...``.  The sentences were written for the facts the shipped
policies happened to cite, and any other came out raw: a policy citing a care episode printed
``care_episode(2,neuropathic_agents)`` in the text, the letter, the JSON ``text`` and the page.
Now every predicate of the case vocabulary has words, tried here on a sample atom of each, and a
policy citing a term with none is a lint error (E309, tests/authoring/test_lint.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from clingo import Function, Number, String

from engine.deciding.evidence import Describer
from engine.deciding.policy import load
from engine.deciding.solver import Engine
from facts import parse_case
from facts.vocabulary import PREDICATES
from shipped import ATOM, atoms_shown

SAMPLE = {"level": String("L4-L5"), "constant": Function("neuropathic_agents"), "state": Function("yes"),
          "integer": Number(2), "tenths": Number(35), "percent": Number(500), "day": Number(20000),
          "days": Number(42), "string": String("walking"), "id": Number(2), "term": Function("care_episodes")}
CASE = [Function("imaging_study", [Number(2), Function("mri")]),
        Function("imaging_date", [Number(2), Number(20000), Number(20000)]),
        Function("care_episode", [Number(2), Function("neuropathic_agents")]),
        Function("care_start", [Number(2), Number(20000), Number(20000)]),
        Function("care_end", [Number(2), Number(20042), Number(20042)]),
        Function("prior_surgery", [Number(2), Function("laminectomy"), Function("lumbar")]),
        Function("cobb_curve", [Number(2), Number(350), Number(2)])]


def test_every_predicate_of_the_vocabulary_has_words():
    from engine.deciding.evidence import worded

    describe = Describer(CASE).describe
    raw = []
    for p in PREDICATES:
        atom = Function(p.name, [SAMPLE[a.kind] for a in p.args])
        for cited in (atom, Function("absent", [atom]), Function("imprecise", [atom])):
            said = describe(cited)
            if ATOM.search(said) or not said.strip():
                raw.append(f"{cited} -> {said!r}")
        assert worded(p.signature)
    assert not raw, "facts without words:\n" + "\n".join(raw)


def test_care_episodes_read_by_modality_and_dates_and_studies_by_type_and_date():
    describe = Describer(CASE).describe
    assert describe(Function("care_episode", [Number(2), Function("neuropathic_agents")])) \
        == "neuropathic agents, 2024-10-04 to 2024-11-15"
    assert describe(Function("imaging_study", [Number(2), Function("mri")])) == "MRI 2024-10-04"


def test_a_term_of_the_wrong_arity_is_never_read_as_the_vocabulary_one():
    """``stenosis/3`` is not the vocabulary's ``stenosis/5``: read as such it stopped the decision."""
    from engine.deciding.evidence import worded

    describe = Describer(CASE).describe
    assert not worded("stenosis/3")
    term = Function("stenosis", [String("L4-L5"), Function("moderate"), Number(2)])
    assert describe(term) == str(term)
    assert describe(Function("absent", [term]))
    odd = Function("stenosis", [String("L4-L5"), Function("central"), Function("left"), Function("moderate"),
                                Function("mri")])
    assert describe(odd) == str(odd)  # a study named, not numbered
    assert describe(Function("exclusion", [Function("pt")])) == "exclusion(pt)"


# -- the reported case: a policy citing a care episode -------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "authoring"))
from test_authoring_guide import _build  # noqa: E402

CITES_AN_EPISODE = """
criterion("AETM-C9", "A neuropathic agent tried", "Aetna CPB 0743 §Fusion, conservative care").
scope("AETM-C9", case).
bears_on("AETM-C9", fusion).
documentation("AETM-C9", "each nonoperative care tried").
met("AETM-C9", case, care_episode(E, neuropathic_agents)) :- evaluated("AETM-C9", case),
    care_episode(E, neuropathic_agents).
"""

RECORD = """
case: episode-cited
request:
  date: 2026-02-01
  levels: [{level: L4-L5, decompression: laminectomy, fusion: {approaches: [tlif]}}]
imaging:
  - {study: mri, date: 2025-12-01, levels: [{level: L4-L5, stenosis: [{zone: central, grade: moderate}]}]}
clinical: {radiculopathy: {present: true}, sensory_deficit: true, adl_limitation: true, tumor: false, infection: false,
           fracture: false}
conservative_care:
  episodes:
    - {modality: physical_therapy, start: 2025-09-01, end: 2025-10-15, outcome: failed}
    - {modality: neuropathic_agents, start: 2025-10-01, end: 2025-12-01, outcome: failed}
"""


def test_a_policy_citing_a_care_episode_prints_no_atom(tmp_path):
    folder = _build(tmp_path)
    policy_file = folder / "policy.lp"
    text = policy_file.read_text(encoding="utf-8")
    text = text.replace('criterion("AETM-N3"))).', 'criterion("AETM-N3"), criterion("AETM-C9"))).')
    policy_file.write_text(text + CITES_AN_EPISODE, encoding="utf-8")
    decision = Engine(load(str(folder))).decide(parse_case(RECORD, "episode-cited.yaml"))
    [c9] = [c for c in decision.level("L4-L5").criteria if c.id == "AETM-C9"]
    assert c9.status == "met" and [e.atom for e in c9.evidence] == ["care_episode(2,neuropathic_agents)"]
    assert c9.evidence[0].text == "neuropathic agents, 2025-10-01 to 2025-12-01"
    for fmt in ("text", "json", "markdown", "html"):
        assert not atoms_shown(decision, fmt), (fmt, atoms_shown(decision, fmt))
