"""The second line of defence (issue 20): before check or diff prints "proved", cases no search chose are
decided; one that refutes a claim is a finding marked as the engine's problem, and nothing is called proved."""

from __future__ import annotations

import engine.analysing.analysis as analysis
from engine.analysing.check import check
from engine.analysing.diff import diff
from engine.analysing.findings import check_text, diff_text
from engine.analysing.sample import sample
from engine.deciding.policy import load


class _Blind:
    """A search that finds nothing: every question answered "no", as bounds that miss everything would."""

    def __init__(self, search):
        self._search = search

    def first(self, assumptions):
        return None

    def __getattr__(self, name):
        return getattr(self._search, name)


def _blinded(monkeypatch):
    real = analysis.Analysis.search
    monkeypatch.setattr(analysis.Analysis, "search", lambda self, *a, **k: _Blind(real(self, *a, **k)))


def test_the_sample_holds_the_examples_the_goldens_and_a_generated_library():
    cases = sample([load("reference"), load("aetna-cpb-0743")], 20)
    sources = [s for s, _ in cases]
    assert any(s.startswith("examples/") for s in sources)
    assert any(s.startswith("reference golden ") for s in sources) and any(s.startswith("aetna-cpb-0743 golden ") for s in sources)
    assert sum(s.startswith("generated record ") for s in sources) == 20
    assert [s for s, _ in sample([load("reference")], 20)] == [s for s, _ in sample([load("reference")], 20)]


def test_a_diff_whose_search_misses_a_difference_says_so_and_proves_nothing(monkeypatch):
    _blinded(monkeypatch)
    result = diff(load("reference"), load("aetna-cpb-0743"), max_witnesses=0, sample_size=30)
    assert result.refuted and not result.proved and result.differs
    text = diff_text(result)
    assert "engine problem: please report" in text and "(proved)" not in text
    assert "no case within the bounds below makes them decide differently" not in text


def test_a_check_whose_search_misses_a_met_criterion_proves_it_dead_no_more(monkeypatch):
    _blinded(monkeypatch)
    result = check(load("reference"), levels=("L4-L5",), sample_size=30)
    refuted = {r.claim for r in result.refuted}
    assert any(c.endswith("is dead (no case meets it)") for c in refuted)
    for cid, proved, why in result.dead:
        if f"{cid} is dead (no case meets it)" in refuted:
            assert not proved and "engine problem: please report" in why
    assert "engine problem: please report" in check_text(result) and result.findings
