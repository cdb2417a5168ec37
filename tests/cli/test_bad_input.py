"""Bad input at the command line: exit status 2, one message on stderr that
says where (the file, and the field path or the line) and how to fix it,
nothing on stdout, and never a traceback.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
NECESSITY = ROOT / ".venv" / "bin" / "necessity"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
VALID_CASE = ROOT / "examples" / "source-001.yaml"
POLICY_HEADER = "% payer: Test\n% policy: broken\n% version: 1\n% effective: 2026-01-01\n% source: test\n"

LEVEL_REQUEST = "request:\n  levels:\n    - {level: L4-L5, decompression: laminectomy}\n"


@dataclass(frozen=True)
class BadCase:
    """A case file that must be refused, and what the message must say."""

    id: str
    name: str  # file name in tmp_path
    content: bytes | None  # None: the file does not exist
    where: tuple[str, ...]  # after the file name: ":line" and/or the field path
    fix: tuple[str, ...]  # how to fix it


BAD_CASES = [
    BadCase("malformed-yaml", "case.yaml", b"case: x\nrequest: [levels\n",
            (":3:", "not valid YAML"), ("close the list",)),
    BadCase("malformed-json", "case.json", b'{"case": "x",\n "request": {\n',
            (":3:", "not valid JSON"), ("every bracket closed",)),
    BadCase("translation-as-text", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST
             + "imaging:\n  - study: flexion_extension_xray\n    levels:\n"
               "      - {level: L4-L5, translation_mm: \"four\"}\n").encode(),
            (":8:", "imaging[0].levels[0].translation_mm:", "'four'"), ("write a number",)),
    BadCase("boolean-as-text", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST + "clinical:\n  adl_limitation: \"yes\"\n").encode(),
            (":6:", "clinical.adl_limitation:", "'yes'"), ("write true or false",)),
    BadCase("unknown-level", "case.yaml",
            b"case: x\nrequest:\n  levels:\n    - {level: L6-L7, decompression: laminectomy}\n",
            (":4:", "request.levels[0].level:", "L6-L7"), ("use one of", "L5-S1")),
    BadCase("negative-weeks", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST
             + "conservative_care:\n  episodes:\n    - {modality: physical_therapy, weeks: -3}\n").encode(),
            (":7:", "conservative_care.episodes[0].weeks:", "-3"), ("cannot be negative", "correct the value")),
    BadCase("sva-out-of-range", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST + "imaging:\n  - study: standing_full_length\n    alignment: {sva_mm: -400}\n").encode(),
            (":7:", "imaging[0].alignment.sva_mm:", "-400", "greater than or equal to -300"),
            ("check that it is in the field's unit",)),
    BadCase("missing-file", "no-such-case.yaml", None, ("no such file",), ("check the path",)),
    BadCase("empty-file", "case.yaml", b"", ("the file is empty",), ("needs at least `case:` and `request:`",)),
    BadCase("comments-only", "case.yaml", b"# nothing here yet\n", ("the file is empty",), ("needs at least",)),
    BadCase("not-utf8", "case.yaml", b"case: x\nnote: caf\xe9\n", (":2:", "not UTF-8"), ("save it as UTF-8",)),
    BadCase("duplicate-yaml-key", "case.yaml", ("case: x\n" + LEVEL_REQUEST + "case: y\n").encode(),
            (":5:", "'case' appears twice", "first on line 1"), ("keep one",)),
    BadCase("duplicate-json-key", "case.json",
            b'{"case": "x", "request": {"levels": [{"level": "L4-L5", "level": "L3-L4", "decompression": true}]}}',
            ("request.levels[0].level:", "appears twice"), ("keep one",)),
    # found while writing these tests: each used to end in a traceback
    BadCase("impossible-yaml-date", "case.yaml",
            b"case: x\nrequest:\n  date: 2025-13-45\n  levels: [{level: L4-L5, decompression: true}]\n",
            (":3:", "request.date:", "2025-13-45"), ("not a calendar date",)),
    BadCase("list-as-key", "case.yaml", b"case: x\n? [a, b]\n: c\n", (":2:",), ("write a field name there",)),
    BadCase("nested-too-deep", "case.json", ('{"case": ' + "[" * 5000 + "]" * 5000 + "}").encode(),
            ("nested too deeply",), ("check its brackets",)),
    BadCase("alias-bomb", "case.yaml",
            ("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
             + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))
             + "case: x\n").encode(),
            ("more than 100000 values",), ("write the values out",)),
    BadCase("alias-cycle", "case.yaml", b"a: &a [*a]\ncase: x\n", (":1:", "refers to the value that contains it"),
            ("write the value out",)),
    BadCase("not-a-number", "case.json",
            b'{"case": "x", "request": {"levels": [{"level": "L4-L5", "decompression": true}]},'
            b' "conservative_care": {"total_weeks": NaN}}',
            ("conservative_care.total_weeks:", "not a finite number"), ("write a number",)),
    BadCase("nul-byte", "case.yaml", b"case: x\nnote: a\x00b\n", (":2:", "#x0000"), ("remove it",)),
    # the hardening corpus (issue 7)
    BadCase("python-tag", "case.yaml", b"case: !!python/object/apply:os.system [\"touch /tmp/necessity-ran\"]\n",
            (":1:",), ("remove the tag",)),
    BadCase("level-twice-different-grades", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST + "imaging:\n  - study: mri\n    levels:\n"
             "      - {level: L4-L5, stenosis: [{zone: central, grade: severe}]}\n"
             "      - {level: L4-L5, stenosis: [{zone: central, grade: mild}]}\n").encode(),
            ("imaging[0].levels:", "L4-L5 is listed twice"), ("merge the two entries",)),
    BadCase("date-in-the-future", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST + "imaging:\n  - {study: mri, date: 2999-03-01}\n").encode(),
            (":6:", "imaging[0].date:", "2999-03-01 is in the future"), ("check the year",)),
    BadCase("request-before-imaging", "case.yaml",
            b"case: x\nrequest:\n  date: 2025-01-10\n  levels: [{level: L4-L5, decompression: true}]\n"
            b"imaging:\n  - {study: mri, date: 2025-03-01}\n",
            ("imaging[0].date 2025-03-01 is after request.date 2025-01-10",), ("correct one of the two dates",)),
    BadCase("absurd-translation", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST + "imaging:\n  - study: flexion_extension_xray\n    levels:\n"
             "      - {level: L4-L5, translation_mm: 400}\n").encode(),
            (":8:", "imaging[0].levels[0].translation_mm:", "400"), ("check that it is in the field's unit",)),
    BadCase("negative-translation", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST + "imaging:\n  - study: flexion_extension_xray\n    levels:\n"
             "      - {level: L4-L5, translation_mm: -2}\n").encode(),
            (":8:", "imaging[0].levels[0].translation_mm:", "-2"), ("cannot be negative",)),
    BadCase("unknown-enum-misspelt", "case.yaml",
            b"case: x\nrequest:\n  levels:\n    - {level: L4-L5, decompression: laminectmy}\n",
            (":4:", "request.levels[0].decompression.technique:", "'laminectmy'"), ("did you mean 'laminectomy'?",)),
    BadCase("unknown-enum-capitals", "case.yaml", ("case: x\n" + LEVEL_REQUEST + "imaging:\n  - study: MRI\n").encode(),
            (":6:", "imaging[0].study:", "'MRI'"), ("did you mean 'mri'?",)),
    BadCase("ten-megabytes", "case.yaml", b"case: x\nnote: |\n" + b"  0123456789abcdef\n" * 600_000,
            ("over 2097152 bytes",), ("a case file is a few kilobytes",)),
    # the second hardening corpus (issue 13): each used to be read as something else, or end in a traceback
    BadCase("yaml-octal", "case.yaml", ("case: x\n" + LEVEL_REQUEST + "conservative_care:\n  total_weeks: 012\n").encode(),
            (":6:", "conservative_care.total_weeks:", "012", "octal"), ("write 12",)),
    BadCase("yaml-sexagesimal", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST + "conservative_care:\n  total_weeks: 1:30\n").encode(),
            (":6:", "conservative_care.total_weeks:", "1:30", "YAML 1.1"), ("quote it if it is text",)),
    BadCase("yaml-underscore-number", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST + "conservative_care:\n  total_weeks: 1_2\n").encode(),
            (":6:", "conservative_care.total_weeks:", "1_2"), ("write 12",)),
    BadCase("yaml-yes", "case.yaml", ("case: x\n" + LEVEL_REQUEST + "clinical:\n  adl_limitation: yes\n").encode(),
            (":6:", "clinical.adl_limitation:", "yes"), ("write true",)),
    BadCase("yaml-off-as-key", "case.yaml", ("case: x\n" + LEVEL_REQUEST + "off: 1\n").encode(),
            (":5:", "off", "YAML 1.1"), ("quote it",)),
    BadCase("nul-in-json-text", "case.json",
            b'{"case": "x", "request": {"levels": [{"level": "L4-L5", "decompression": true}]},'
            b' "clinical": {"limited_activities": ["walk\\u0000ing", "sitting"]}}',
            ("clinical.limited_activities[0]:", "U+0000"), ("remove it",)),
    BadCase("escape-in-yaml-text", "case.yaml", ("case: x\n" + LEVEL_REQUEST + 'note: "red \\e[31m"\n').encode(),
            (":5:", "note:", "U+001B"), ("remove it",)),
    BadCase("control-character-in-a-key", "case.json",
            b'{"case": "x", "request": {"levels": [{"level": "L4-L5", "decompression": true}]}, "no\\u0007te": "x"}',
            ("U+0007",), ("remove it",)),
    BadCase("lone-surrogate", "case.json",
            b'{"case": "\\ud800", "request": {"levels": [{"level": "L4-L5", "decompression": true}]}}',
            ("case:", "U+D800"), ("remove it",)),
    BadCase("huge-integer-json", "case.json",
            b'{"case": "x", "request": {"levels": [{"level": "L4-L5", "decompression": true}]},'
            b' "conservative_care": {"total_weeks": ' + b"9" * 5000 + b"}}",
            ("conservative_care.total_weeks:", "5000 digits"), ("correct it",)),
    BadCase("huge-integer-yaml", "case.yaml",
            ("case: x\n" + LEVEL_REQUEST + "conservative_care:\n  total_weeks: " + "9" * 5000 + "\n").encode(),
            (":6:", "conservative_care.total_weeks:", "5000 digits"), ("correct it",)),
    BadCase("date-as-key", "case.yaml", ("case: x\n" + LEVEL_REQUEST + "2025-01-01: x\n").encode(),
            (":5:", "2025-01-01:"), ("is not a field here",)),
    BadCase("number-as-key", "case.yaml", ("case: x\n" + LEVEL_REQUEST + "1: x\n").encode(),
            (":5:", "the key 1"), ("a field name",)),
    BadCase("binary-as-key", "case.yaml", ("case: x\n" + LEVEL_REQUEST + "? !!binary aGVsbG8=\n: x\n").encode(),
            (":5:", "!!binary"), ("remove the tag",)),
    BadCase("binary-value", "case.yaml", ("case: x\n" + LEVEL_REQUEST + "note: !!binary aGVsbG8=\n").encode(),
            (":5:", "!!binary"), ("remove the tag",)),
    BadCase("set-tag", "case.yaml", ("case: !!set {a, b}\n" + LEVEL_REQUEST).encode(), (":1:", "!!set"),
            ("remove the tag",)),
    BadCase("str-tag", "case.yaml", ("case: !!str 012\n" + LEVEL_REQUEST).encode(), (":1:", "!!str"),
            ("remove the tag",)),
    BadCase("undefined-alias", "case.yaml", ("case: *x\n" + LEVEL_REQUEST).encode(), (":1:", "*x"),
            ("write the value out",)),
    BadCase("two-documents", "case.yaml", ("case: x\n" + LEVEL_REQUEST + "---\ncase: y\n").encode(),
            (":5:", "more than one YAML document"), ("one record per file",)),
    # the limits hold while the file is read: a value past the limit is refused before the end is reached
    BadCase("many-values-unfinished-yaml", "case.yaml", b"case: x\nnote: [" + b"0, " * 100_001 + b"0\n",
            ("more than 100000 values",), ("write the values out",)),
    BadCase("many-values-unfinished-json", "case.json", b'{"case": "x", "note": [' + b"0, " * 100_001 + b"0",
            ("more than 100000 values",), ("one case record",)),
    BadCase("million-integers", "case.yaml", b"case: x\nnote: [" + b"0," * 999_999 + b"0]\n",
            ("more than 100000 values",), ("one case record",)),
]


def _write(tmp_path: Path, bad: BadCase) -> Path:
    path = tmp_path / bad.name
    if bad.content is not None:
        path.write_bytes(bad.content)
    return path


def _assert_refused(exit_code: int, stdout: str, stderr: str, source: str, where: tuple[str, ...],
                    fix: tuple[str, ...]) -> None:
    shown = f"exit {exit_code}\nstdout: {stdout!r}\nstderr: {stderr!r}"
    assert exit_code == 2, shown
    assert "Traceback" not in stdout + stderr, shown
    assert stdout == "", shown
    assert stderr.startswith("error: "), shown
    assert source in stderr, f"the message does not name {source}\n{shown}"
    after = stderr.split(source, 1)[1]
    for piece in where + fix:
        assert piece in after, f"the message lacks {piece!r}\n{shown}"


# Only in a process of its own, with a timeout: a regression would hang, not fail.
ONLY_IN_A_PROCESS = {"alias-bomb"}
IN_A_PROCESS = {"malformed-yaml", "translation-as-text", "not-utf8", "yaml-octal", "nul-in-json-text",
                "huge-integer-json", "million-integers"} | ONLY_IN_A_PROCESS


@pytest.mark.parametrize("bad", [b for b in BAD_CASES if b.id not in ONLY_IN_A_PROCESS], ids=lambda b: b.id)
def test_bad_case_file_is_refused_with_where_and_how(tmp_path, bad: BadCase):
    path = _write(tmp_path, bad)
    result = CliRunner().invoke(main, ["explain", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    _assert_refused(result.exit_code, result.stdout, result.stderr, str(path), bad.where, bad.fix)


@pytest.mark.parametrize("bad", [b for b in BAD_CASES if b.id in IN_A_PROCESS], ids=lambda b: b.id)
def test_bad_case_file_in_a_real_process(tmp_path, bad: BadCase):
    path = _write(tmp_path, bad)
    run = subprocess.run([str(NECESSITY), "explain", str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    _assert_refused(run.returncode, run.stdout, run.stderr, str(path), bad.where, bad.fix)


# --------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------


def _policy(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "broken-policy"
    folder.mkdir()
    (folder / "policy.lp").write_text(POLICY_HEADER + body, encoding="utf-8")
    return folder


def test_unknown_policy_id(tmp_path):
    result = CliRunner().invoke(main, ["explain", str(VALID_CASE), "--policy", "no-such-policy"])
    _assert_refused(result.exit_code, result.stdout, result.stderr, "no-such-policy",
                    ("unknown policy", "reference"), ("give an id or a policy folder",))


def test_missing_policy_folder(tmp_path):
    folder = tmp_path / "nowhere"
    result = CliRunner().invoke(main, ["explain", str(VALID_CASE), "--policy", str(folder)])
    _assert_refused(result.exit_code, result.stdout, result.stderr, str(folder),
                    ("no such policy folder",), ("give a folder holding policy .lp files",))


def test_policy_syntax_error(tmp_path):
    folder = _policy(tmp_path, 'criterion("T-1", "t", "c").\np(X) :- q(X.\n')
    result = CliRunner().invoke(main, ["explain", str(VALID_CASE), "--policy", str(folder)])
    _assert_refused(result.exit_code, result.stdout, result.stderr, "policy.lp",
                    (":7:", "syntax error"), ("correct the rule at that position",))


def test_policy_syntax_error_at_end_of_file(tmp_path):
    folder = _policy(tmp_path, 'criterion("T-1", "t", "c").\np :- q')
    result = CliRunner().invoke(main, ["explain", str(VALID_CASE), "--policy", str(folder)])
    _assert_refused(result.exit_code, result.stdout, result.stderr, "policy.lp",
                    ("syntax error", "unexpected EOF"), ("end the last rule with a period",))


def test_policy_script_is_refused(tmp_path):
    marker = tmp_path / "ran"
    folder = _policy(tmp_path, f'#script (python)\nopen("{marker}", "w").write("x")\n#end.\n')
    result = CliRunner().invoke(main, ["explain", str(VALID_CASE), "--policy", str(folder)])
    _assert_refused(result.exit_code, result.stdout, result.stderr, "policy.lp",
                    (":6:1:", "E201 #script is refused"), ("express the rule in ASP",))
    assert not marker.exists()


def test_policy_include_outside_the_folder_is_refused(tmp_path):
    folder = _policy(tmp_path, '#include "/etc/passwd".\n')
    result = CliRunner().invoke(main, ["explain", str(VALID_CASE), "--policy", str(folder)])
    _assert_refused(result.exit_code, result.stdout, result.stderr, "policy.lp",
                    (":6:1:", "E202", "/etc/passwd", "reaches outside the policy folder"),
                    ("copy the rules into the policy",))
    assert "root:" not in result.stderr  # the file was never read into a message


def test_policy_not_utf8(tmp_path):
    folder = tmp_path / "latin1-policy"
    folder.mkdir()
    (folder / "policy.lp").write_bytes(POLICY_HEADER.encode() + b"% caf\xe9\n")
    result = CliRunner().invoke(main, ["explain", str(VALID_CASE), "--policy", str(folder)])
    _assert_refused(result.exit_code, result.stdout, result.stderr, "policy.lp",
                    (":6:", "not UTF-8"), ("save the file as UTF-8",))


def test_policy_script_is_refused_in_a_real_process(tmp_path):
    folder = _policy(tmp_path, "#script (python)\nimport os\n#end.\n")
    run = subprocess.run([str(NECESSITY), "explain", str(VALID_CASE), "--policy", str(folder)],
                         capture_output=True, text=True, timeout=60, check=False)
    _assert_refused(run.returncode, run.stdout, run.stderr, "policy.lp", (":6:1:", "E201"),
                    ("express the rule in ASP",))


# --------------------------------------------------------------------------
# Usage, and the good path
# --------------------------------------------------------------------------


def test_unknown_level_option():
    result = CliRunner().invoke(main, ["explain", str(VALID_CASE), "--level", "L6-L7"])
    _assert_refused(result.exit_code, result.stdout, result.stderr, "--level L6-L7",
                    ("unknown spinal level",), ("use one of",))


def test_level_option_not_requested_by_the_case():
    result = CliRunner().invoke(main, ["explain", str(VALID_CASE), "--level", "L2-L3"])
    _assert_refused(result.exit_code, result.stdout, result.stderr, str(VALID_CASE),
                    ("does not request L2-L3",), ("it requests L5-S1",))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_valid_example_exits_0(example: Path):
    result = CliRunner().invoke(main, ["explain", str(example), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)["case"] == example.stem


def test_valid_example_exits_0_in_a_real_process():
    run = subprocess.run([str(NECESSITY), "explain", str(VALID_CASE)], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert "L5-S1" in run.stdout and "Traceback" not in run.stdout
