"""bench/equivalence.py, the proof a rewritten policy text gives the same JSON byte for byte, finds a difference."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import equivalence  # noqa: E402


def _copy(tmp_path: Path, name: str, old: str = "", new: str = "") -> Path:
    folder = tmp_path / name
    shutil.copytree(ROOT / "policies" / "reference", folder)
    policy = folder / "policy.lp"
    text = policy.read_text(encoding="utf-8")
    if old:
        assert old in text
        policy.write_text(text.replace(old, new), encoding="utf-8")
    return folder


def test_a_copy_is_equal_and_an_edited_formula_is_not(tmp_path, capsys):
    same = _copy(tmp_path, "same")
    args = ["--skip", "golden", "--generated", "2", "--show", "0"]
    assert equivalence.main([str(ROOT / "policies" / "reference"), str(same), *args]) == 0
    assert "7 cases compared (0 goldens, 5 examples, 2 generated, seed 2026); 0 differ" in capsys.readouterr().out
    # REF-D3 reading another finding changes what the examples are told
    edited = _copy(tmp_path, "edited", 'formula("REF-D3", finding(adl_limitation)).',
                   'formula("REF-D3", finding(sensory_deficit)).')
    assert equivalence.main([str(ROOT / "policies" / "reference"), str(edited), *args]) == 1
    out = capsys.readouterr().out
    assert "differs: example examples/" in out
