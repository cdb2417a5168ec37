"""Policies are vetted before clingo sees them: no code, no files outside the folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.deciding.errors import PolicyError
from engine.deciding.policy import load, read_header, resolve, shipped_policies

HEADER = "% payer: Test\n% policy: t\n% version: 1\n% effective: 2026-01-01\n% source: test\n"


def _policy(tmp_path: Path, body: str, name: str = "policy.lp") -> Path:
    folder = tmp_path / "p"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(HEADER + body, encoding="utf-8")
    return folder


def test_reference_loads_with_header_and_criteria_in_document_order():
    p = load("reference")
    assert p.id == "reference" and p.version == "1.1" and p.effective == "2025-01-01"
    ids = [c.id for c in p.criteria]
    assert ids[:8] == ["REF-D2", "REF-D3", "REF-D4", "REF-D4a", "REF-D4b", "REF-D4c", "REF-D4d", "REF-W1"]
    expected = {f"REF-{x}" for x in "D1 D2 D3 D4 D4a D4b D4c D4d W1 F1 F2 F3 F4 F5 X1 X2 A1 A2 A3 A4 A5 A6 S1".split()}
    assert set(ids) == expected
    assert all(c.title and c.citation.startswith("reference §") for c in p.criteria)


def test_script_is_refused_with_file_and_line(tmp_path):
    folder = _policy(tmp_path, "p(1).\n#script (python)\nimport os\n#end.\n")
    with pytest.raises(PolicyError) as err:
        load(str(folder))
    assert "policy.lp:7:1: E201" in str(err.value)


def test_outside_include_is_refused_and_never_read(tmp_path):
    secret = tmp_path / "secret.lp"
    secret.write_text("this is not ASP at all (", encoding="utf-8")
    folder = _policy(tmp_path, f'#include "{secret}".\n#include "../secret.lp".\n')
    with pytest.raises(PolicyError) as err:
        load(str(folder))
    text = str(err.value)
    assert text.count("E202") == 2 and "reaches outside the policy folder" in text
    assert "syntax error" not in text  # the outside file was never parsed


def test_include_inside_the_folder_is_loaded_by_the_engine(tmp_path):
    folder = _policy(tmp_path, '#include "sub/extra.lp".\ncriterion("T-1", "A test criterion", "test §1").\n')
    (folder / "sub").mkdir()
    (folder / "sub" / "extra.lp").write_text('criterion("T-2", "Another", "test §2").\n', encoding="utf-8")
    assert [c.id for c in load(str(folder)).criteria] == ["T-1", "T-2"]


def test_directive_words_in_comments_and_strings_are_harmless(tmp_path):
    folder = _policy(tmp_path, '% #script (python) in a comment\nnote("#include \\"/etc/passwd\\".").\n')
    assert load(str(folder)).id == "t"


def test_syntax_error_names_file_line_and_column(tmp_path):
    folder = _policy(tmp_path, "p(X) :- q(.\n")
    with pytest.raises(PolicyError) as err:
        load(str(folder))
    assert "policy.lp:6:" in str(err.value) and "syntax error" in str(err.value)


def test_missing_header_is_reported(tmp_path):
    folder = tmp_path / "h"
    folder.mkdir()
    (folder / "policy.lp").write_text("p.\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="E302 header lacks payer, policy, version, effective, source"):
        load(str(folder))


def test_unknown_policy_id_lists_the_known_ones():
    with pytest.raises(PolicyError, match="unknown policy .*reference"):
        resolve("no-such-policy")


def test_shipped_policies_include_reference():
    assert "reference" in shipped_policies()


def test_header_accepts_pipe_separated_pairs():
    assert read_header("% policy: x | version: 2\n% payer: P\n\np.") == {"policy": "x", "version": "2", "payer": "P"}
