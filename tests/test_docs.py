"""The documents say what the code does.

* docs/case-format.md: every complete case in it validates; every explanation
  excerpt under a case comes out of that case; every shell transcript (the
  broken file and its messages) is what the command prints; the table of
  closed vocabularies is the case model's.
* docs/json.md: the field tables name exactly the keys the JSON output has, in
  its order; the complete example is the command's output byte for byte; every
  other JSON excerpt occurs in real output; the jq recipes print what is shown.
* README.md: the explanation excerpt is in the real output, in order.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import shutil
import subprocess
import sys
from enum import Enum
from functools import lru_cache
from pathlib import Path

import pytest
from click.testing import CliRunner

import facts.terms as terms
from engine.cli import main
from facts import parse_case
from facts.schema import _unwrap, walk

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def blocks(text: str) -> list[tuple[str, str, int, int]]:
    """(info string, body, start offset, end offset) of every fenced block."""
    return [(m.group(1).strip(), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]


def section(text: str, heading: str) -> str:
    """The text under a ``## heading`` up to the next ``## ``."""
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def invoke(args: list[str]):
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result


@lru_cache(maxsize=None)
def explain_json(case: str, *extra: str) -> dict:
    result = invoke(["explain", case, "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@functools.lru_cache(maxsize=1)
def _outputs() -> tuple[str, ...]:
    # the examples; a case whose studies disagree; and one under a policy that took
    # effect after its request, so that every documented object occurs somewhere
    runs = [[str(path)] for path in EXAMPLES]
    runs += [[str(ROOT / "tests" / "data" / "conflicting-studies.yaml")],
             [str(ROOT / "tests" / "data" / "cauda-equina.yaml")],
             [str(EXAMPLES[-2]), "--policy", "aetna-cpb-0743"]]
    return tuple(json.dumps(explain_json(*run)) for run in runs)


def example_outputs() -> list[dict]:
    return [json.loads(text) for text in _outputs()]


def is_complete_case(body: str) -> bool:
    return bool(re.search(r"^case:", body, re.M)) and bool(re.search(r"^request:", body, re.M))


# ---------------------------------------------------------------------------
# docs/case-format.md
# ---------------------------------------------------------------------------

CASE_FORMAT = DOCS / "case-format.md"


def _case_blocks() -> list[tuple[str, str, int, int]]:
    return [b for b in blocks(_read(CASE_FORMAT)) if b[0] == "yaml" and is_complete_case(b[1])]


def test_case_format_has_complete_cases():
    assert len(_case_blocks()) >= 5


@pytest.mark.parametrize("index", range(len(_case_blocks())))
def test_case_format_yaml_cases_validate(index):
    _, body, _, _ = _case_blocks()[index]
    parse_case(body, f"docs/case-format.md (yaml block {index})")


def test_case_format_json_cases_validate():
    found = 0
    for info, body, _, _ in blocks(_read(CASE_FORMAT)):
        if info != "json":
            continue
        data = json.loads(body)
        if isinstance(data, dict) and "case" in data and "request" in data:
            parse_case(body, "docs/case-format.md (json block)", fmt="json")
            found += 1
    assert found >= 1


def _excerpts_after_cases() -> list[tuple[str, str]]:
    """(case yaml, text excerpt) where a text block directly follows a case."""
    text = _read(CASE_FORMAT)
    all_blocks = blocks(text)
    pairs = []
    for (info, body, _, end), (info2, body2, start2, _) in zip(all_blocks, all_blocks[1:]):
        if info == "yaml" and is_complete_case(body) and info2 == "text" and not text[end:start2].strip():
            pairs.append((body, body2))
    return pairs


def test_case_format_has_state_excerpts():
    assert len(_excerpts_after_cases()) == 3


@pytest.mark.parametrize("index", range(len(_excerpts_after_cases())))
def test_case_format_excerpts_come_from_their_case(index, tmp_path):
    case, excerpt = _excerpts_after_cases()[index]
    path = tmp_path / "case.yaml"
    path.write_text(case, encoding="utf-8")
    result = invoke(["explain", str(path)])
    assert result.exit_code == 0, result.output
    out = [line.rstrip() for line in result.stdout.splitlines()]
    wanted = [line.rstrip() for line in excerpt.splitlines() if line.strip()]
    assert _is_subsequence(wanted, out), f"excerpt not in the output:\n{excerpt}\n---\n{result.stdout}"


def _transcripts() -> list[str]:
    return [body for info, body, _, _ in blocks(_read(CASE_FORMAT)) if info == "text" and body.startswith("$ ")]


def test_case_format_transcripts(tmp_path, monkeypatch):
    """Replay every ``$ cat -n``, ``$ necessity`` and ``$ echo $?`` shown."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    transcripts = _transcripts()
    assert transcripts, "no shell transcripts found in docs/case-format.md"
    replayed = 0
    last_exit: int | None = None
    for body in transcripts:
        steps = re.split(r"^\$ ", body, flags=re.M)[1:]
        for step in steps:
            command, _, shown = step.partition("\n")
            argv = shlex.split(command)
            if argv[:2] == ["cat", "-n"]:
                lines = [re.sub(r"^ *\d+\t", "", line, count=1) for line in shown.splitlines()]
                (tmp_path / argv[2]).write_text("\n".join(lines) + "\n", encoding="utf-8")
            elif argv[0] == "necessity":
                result = CliRunner().invoke(main, argv[1:])
                assert result.stdout + result.stderr == shown, f"$ {command}"
                last_exit = result.exit_code
                replayed += 1
            elif command == "echo $?":
                assert last_exit == int(shown.strip()), f"exit status after the last command is {last_exit}"
            else:
                raise AssertionError(f"a transcript step this test cannot replay: $ {command}")
    assert replayed >= 3


def test_case_format_vocabularies_are_the_models():
    text = section(_read(CASE_FORMAT), "## Closed vocabularies")
    enums: dict[str, type[Enum]] = {}
    for path, annotation, _ in walk():
        for t in _unwrap(annotation):
            if isinstance(t, type) and issubclass(t, Enum):
                enums[path] = t
    covered: set[type[Enum]] = set()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows
    for row in rows:
        fields_cell, values_cell = row.strip("|").split("|")[:2]
        values = re.findall(r"`([^`]+)`", values_cell)
        for field in re.findall(r"`([^`]+)`", fields_cell):
            assert field in enums, f"{field} is not a closed-vocabulary field of the case model"
            assert values == [m.value for m in enums[field]], f"{field}: the document lists {values}"
            covered.add(enums[field])
    assert set(enums) <= {f for row in rows for f in re.findall(r"`([^`]+)`", row.strip("|").split("|")[0])}, (
        "a closed-vocabulary field is missing from the table"
    )
    every_term = {t for t in vars(terms).values() if isinstance(t, type) and issubclass(t, terms.Term) and t is not terms.Term}
    # MRC modifiers are written as "4-" or "4+/5", not as a field of their own.
    assert every_term - covered == {terms.MrcModifier}


def test_case_format_spells_every_level():
    text = section(_read(CASE_FORMAT), "## `request`")
    assert re.findall(r"`((?:[TLS]\d+-[TLS]\d+)|S1-pelvis)`", text.split("**Levels**", 1)[1])[: len(terms.SPINAL_LEVELS)] == list(
        terms.SPINAL_LEVELS
    )


# ---------------------------------------------------------------------------
# docs/json.md
# ---------------------------------------------------------------------------

JSON_MD = DOCS / "json.md"

#: Field-table heading (its first code span, or "Top level") -> object kind.
KINDS = {
    "Top level": "top",
    "policy": "policy",
    "notices[]": "notice",
    "levels[]": "level",
    "items[]": "item",
    "criteria[]": "criterion",
    "evidence[]": "evidence",
    "would_change[]": "would_change",
    "requires_at[]": "requires_at",
    "to_request[]": "to_request",
    "lacking[]": "lacking",
}


def documented_fields() -> dict[str, list[str]]:
    """Object kind -> keys, in the order of the field tables in docs/json.md."""
    text = section(_read(JSON_MD), "## Fields")
    out: dict[str, list[str]] = {}
    for chunk in text.split("\n### ")[1:]:
        heading, _, body = chunk.partition("\n")
        code = re.search(r"`([^`]+)`", heading)
        name = "Top level" if heading.startswith("Top level") else code.group(1) if code else heading
        assert name in KINDS, f"unexpected field table heading: ### {heading}"
        table = body[body.index("| key |") :].split("\n\n", 1)[0]  # the first table: key, type, meaning
        keys = [m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", table, re.M)]
        assert keys, f"### {heading} has no field table"
        out[KINDS[name]] = keys
    return out


def real_objects(outputs: list[dict]) -> dict[str, list[dict]]:
    """Object kind -> every such object in the outputs."""
    objs: dict[str, list[dict]] = {k: [] for k in KINDS.values()}
    for out in outputs:
        objs["top"].append(out)
        objs["policy"].append(out["policy"])
        objs["notice"].extend(out["notices"])
        for kind, subjects in (("level", out["levels"]), ("item", out["items"])):
            for s in subjects:
                objs[kind].append(s)
                for c in s["criteria"]:
                    objs["criterion"].append(c)
                    objs["evidence"].extend(c["evidence"] + c.get("noted", []) + c.get("superseded", [])
                                            + c.get("unsettled", []))
                    objs["lacking"].extend(c.get("lacking", []))
                objs["to_request"].extend(s.get("to_request", []))
                for w in s["would_change"]:
                    objs["would_change"].append(w)
                    objs["requires_at"].extend(w["requires_at"] + w.get("one_of", []))
    return objs


#: Keys no shipped policy gives on the examples, each held by a test of its own: ``choose`` needs a
#: declared ``n_of`` tree (tests/presenting/test_declared_tree.py).
UNSHIPPED = {"would_change": {"choose"}}


def test_json_field_tables_cover_every_object():
    assert set(documented_fields()) == set(KINDS.values())


@pytest.mark.parametrize("kind", sorted(set(KINDS.values())))
def test_json_documented_fields_are_the_real_ones(kind):
    documented = documented_fields()[kind]
    objects = real_objects(example_outputs())[kind]
    assert objects, f"no {kind} object in the examples' output"
    seen = {key for obj in objects for key in obj}
    assert set(documented) - seen - UNSHIPPED.get(kind, set()) == set(), f"documented for {kind} but never in the output"
    assert seen - set(documented) == set(), f"in the output of {kind} but not documented"
    assert len(documented) == len(set(documented)), f"a {kind} key is documented twice"
    for obj in objects:
        assert list(obj) == [k for k in documented if k in obj], f"{kind} keys out of the documented order: {list(obj)}"


def test_json_complete_example_is_real_output():
    text = _read(JSON_MD)
    match = re.search(r"<!-- output of: necessity ([^>]*?) -->\n```json\n(.*?)^```", text, re.M | re.S)
    assert match, "docs/json.md has no complete example"
    args = shlex.split(match.group(1))
    result = invoke(args)
    assert result.exit_code == 0
    assert result.stdout == match.group(2)


def _contains(haystack, needle) -> bool:
    if haystack == needle:
        return True
    if isinstance(haystack, dict):
        return any(_contains(v, needle) for v in haystack.values())
    if isinstance(haystack, list):
        return any(_contains(v, needle) for v in haystack)
    return False


def test_json_excerpts_occur_in_real_output():
    text = _read(JSON_MD)
    complete = re.search(r"<!-- output of: [^>]*-->\n```json\n", text).end()
    excerpts = [json.loads(body) for info, body, start, _ in blocks(text) if info == "json" and start != complete - len("```json\n")]
    assert len(excerpts) >= 2
    outputs = example_outputs()
    for excerpt in excerpts:
        assert any(_contains(out, excerpt) for out in outputs), f"not in any example's output: {excerpt}"


def test_json_jq_recipes_print_what_is_shown():
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    text = _read(JSON_MD)
    all_blocks = blocks(text)
    checked = 0
    necessity = [sys.executable, "-c", "from engine.cli import main; main(prog_name='necessity')"]
    for (info, body, _, end), (info2, body2, start2, _) in zip(all_blocks, all_blocks[1:]):
        if info != "sh" or "| jq" not in body or text[end:start2].strip():
            continue
        command = body.replace("\\\n", " ")
        head, _, filters = command.partition("|")
        produced = subprocess.run(necessity + shlex.split(head)[1:], capture_output=True, text=True, cwd=ROOT, check=True).stdout
        jq = shlex.split(filters.strip())
        shown = subprocess.run(jq, input=produced, capture_output=True, text=True, check=True).stdout
        assert shown == body2, f"$ {command}"
        checked += 1
    assert checked >= 3


def test_json_documents_every_item_and_determination():
    from engine.deciding.decision import DETERMINATIONS, ITEM_DETERMINATIONS, OUTCOMES, STATUSES

    text = _read(JSON_MD)
    for value in (*DETERMINATIONS, *ITEM_DETERMINATIONS, *OUTCOMES, *STATUSES, "inpatient_setting", *(i.value for i in terms.Item)):
        assert f"`{value}`" in text, f"docs/json.md does not mention `{value}`"


def test_json_output_is_byte_identical_across_runs():
    path = str(EXAMPLES[0])
    first = invoke(["explain", path, "--format", "json"]).stdout
    assert invoke(["explain", path, "--format", "json"]).stdout == first


# ---------------------------------------------------------------------------
# README.md
# ---------------------------------------------------------------------------

README_COMMAND = "necessity explain examples/source-003.yaml --level L4-L5"
MARKED = re.compile(r"^  \s*[✓✗?→]")


def _readme_excerpt() -> list[str]:
    texts = [body for info, body, _, _ in blocks(_read(ROOT / "README.md")) if info == "text"]
    assert len(texts) == 1, "README.md should have one ```text block"
    lines = texts[0].splitlines()
    assert lines[0] == f"$ {README_COMMAND}"
    return [line.rstrip() for line in lines[1:]]


def _readme_output() -> list[str]:
    result = invoke(shlex.split(README_COMMAND)[1:])
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout
    return [line.rstrip() for line in result.stdout.splitlines()]


def _is_subsequence(wanted: list[str], lines: list[str]) -> bool:
    it = iter(lines)
    return all(any(w == line for line in it) for w in wanted)


def test_readme_marked_lines_are_in_the_output():
    marked = [line for line in _readme_excerpt() if MARKED.match(line)]
    assert len(marked) >= 5
    output = _readme_output()
    missing = [line for line in marked if line not in output]
    assert not missing, f"README.md lines not in `{README_COMMAND}`: {missing}"
    assert _is_subsequence(marked, output), "README.md's marked lines are in another order than the output's"


def test_readme_excerpt_is_the_output_with_elisions():
    wanted = [line for line in _readme_excerpt() if line.strip() and line.strip() != "…"]
    assert _is_subsequence(wanted, _readme_output())


# --------------------------------------------------------------------------
# docs/security.md: every test it cites exists
# --------------------------------------------------------------------------


def test_security_cites_only_tests_that_exist():
    import re as _re

    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    cited = _re.findall(r"`(?:tests/(?:\w+/)?)?(test_\w+\.py)(?:::(\w+\*?))?", text)
    assert len(cited) > 15
    for module, name in cited:
        source = next((ROOT / "tests").rglob(module)).read_text(encoding="utf-8")  # tests/<wing>/test_x.py
        if name:
            pattern = _re.escape(name.rstrip("*")) + (r"\w*" if name.endswith("*") else r"\b")
            assert _re.search(r"def " + pattern, source), f"docs/security.md cites {module}::{name}, which does not exist"
    for case_id in _re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", text):
        if case_id in {"audit-examples", "bidi-override"}:
            continue
        assert f'"{case_id}"' in (ROOT / "tests" / "cli" / "test_bad_input.py").read_text(), f"no bad case {case_id!r}"


def test_json_batch_error_record_is_real(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from engine.cli import main

    shown = re.search(r"```jsonl\n(.*)\n```", _read(JSON_MD)).group(1)
    good = json.dumps({"case": "ok", "request": {"levels": [{"level": "L4-L5", "decompression": True}]}})
    bad = json.dumps({"case": "bad", "request": {"levels": [{"level": "L9-L10", "decompression": True}]}})
    monkeypatch.chdir(tmp_path)
    Path("cases.jsonl").write_text(f"{good}\n{good}\n{bad}\n")
    result = CliRunner().invoke(main, ["batch", "cases.jsonl", "--out", "-"])
    record = result.stdout.splitlines()[2]
    prefix = shown.split("...")[0]
    assert record.startswith(prefix), f"docs/json.md shows {shown}\nbatch writes {record}"


# --------------------------------------------------------------------------
# docs/html.md: its pictures exist and are made by the script it names
# --------------------------------------------------------------------------


def test_html_doc_pictures_are_the_ones_the_screenshot_script_makes():
    text = _read(DOCS / "html.md")
    pictures = re.findall(r"!\[[^\]]*\]\((images/[^)]+\.png)\)", text)
    assert pictures, "docs/html.md shows no screenshot"
    script = _read(DOCS / "screenshots.py")
    for picture in pictures:
        assert (DOCS / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{picture} is not a PNG"
        assert f'"{Path(picture).name}"' in script, f"docs/screenshots.py does not make {picture}"
    assert "screenshots:" in _read(ROOT / "Makefile") and "make screenshots" in text


def test_html_doc_commands_write_the_pages(tmp_path, monkeypatch):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    for line in blocks(_read(DOCS / "html.md"))[0][1].splitlines():
        command, _, redirect = line.partition(">")
        result = invoke(shlex.split(command)[1:])
        assert result.exit_code == 0, f"{line}: {result.output}"
        if redirect:
            (tmp_path / redirect.strip()).write_text(result.stdout, encoding="utf-8")
    for page in ("source-003.html", "report.html"):
        assert (tmp_path / page).read_text(encoding="utf-8").startswith("<!DOCTYPE html>"), page
