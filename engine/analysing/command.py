"""``necessity diff`` and ``necessity check``: the searches run in a child, their progress, their witness files.

Each function does its command's work, prints through the ``Console`` it is
given, and returns the exit status (0 nothing found and all proved, 1 found,
2 nothing found and not proved); a ``UserError`` it raises is the user's
(exit 2), and so is the ``ChildError`` of a search that failed in its child.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from engine.deciding import UserError
from engine.presenting.console import FINDINGS, OK, USAGE, Console

CONFIRM_FAILED = "the engine could not confirm some witnesses (see 'engine problem' above): please report it"


def _known_levels(levels: tuple[str, ...]) -> None:
    from facts.terms import SPINAL_LEVELS

    for level in levels:
        if level not in SPINAL_LEVELS:
            raise UserError(f"--level {level}: unknown spinal level: use one of {', '.join(SPINAL_LEVELS)}")


def diff(console: Console, policy_a: str, policy_b: str, *, policies_dir: str | None, max_witnesses: int,
         levels: tuple[str, ...], emit_dir: str | None, cases_path: str | None, jobs: int, timeout: float | None,
         fmt: str) -> int:
    """Two policies compared: by a search for witnesses, or (``cases_path``) on a case library.

    A policy named ID@REV is checked out of git at that revision into a
    temporary folder for the run.
    """
    from engine.analysing.diff import policy_at_revision
    from engine.deciding import load

    _known_levels(levels)
    with tempfile.TemporaryDirectory(prefix="necessity-diff-") as work:
        def resolve(ref: str) -> str:
            if "@" in ref and not Path(ref).is_dir():  # a folder named with an '@' is that folder
                return str(policy_at_revision(ref, Path(work)))
            return ref

        ref_a, ref_b = resolve(policy_a), resolve(policy_b)
        a, b = load(ref_a, policies_dir), load(ref_b, policies_dir)
        if cases_path is not None:
            return _impact(console, cases_path, ref_a, ref_b, policies_dir, jobs, timeout, fmt)
        target = prepare_emit(emit_dir, [a.folder, b.folder])
        result = _search(console, a, b, levels or ("L4-L5",), max_witnesses, timeout)
    from engine.analysing.findings import diff_json, diff_text
    from engine.presenting import dumps

    console.out(dumps(diff_json(result)) if fmt == "json" else diff_text(result))
    if target is not None:
        emit(console, target, case_files([
            (w.case, [f"A case on which {a.id} {a.version} and {b.id} {b.version} decide differently,",
                      "found by `necessity diff` and re-decided by both policies:"]
             + [f"  {d.subject}: {a.id} {d.a}, {b.id} {d.b}" for d in w.differences])
            for w in result.witnesses] + [
            (w, [f"A case {pid} gives several answers, found by `necessity diff`"]) for pid, w in result.several if w]),
            printed=fmt == "json")
    if result.problems:
        raise UserError(CONFIRM_FAILED)
    if result.differs:
        return FINDINGS
    if not result.proved:
        console.err("nothing found, and not proved: see the reasons above")
        return USAGE
    return OK


def _search(console: Console, a: Any, b: Any, levels: tuple[str, ...], max_witnesses: int,
            timeout: float | None) -> Any:
    """The witness search of ``diff``, in a child within ``timeout``, its progress shown as it goes."""
    from engine.analysing import diff as search
    from engine.deciding import Stopped, limited

    result = search.DiffResult(a.id, b.id, a.version, b.version)
    asked = total = 0
    job = lambda: search.diff_events(a, b, levels=levels, max_witnesses=max_witnesses)  # noqa: E731
    for event in limited(job, timeout=timeout):
        if isinstance(event, Stopped):
            result.stopped = event.detail
            break
        result.add(event)
        if event[0] == "bounds":
            total = len(search.questions(event[1], {i for i, _ in event[2]}))
        elif event[0] == "question":
            asked += 1
        elif event[0] == "witness":
            w = event[1]
            changes = ", ".join(f"{d.subject}: {a.id} {d.a}, {b.id} {d.b}" for d in w.differences[:2])
            console.line(f"witness {len(result.witnesses)}: {w.question.label()} ({changes})")
        console.status(f"{asked}/{total} questions answered · {len(result.witnesses)} witnesses")
    console.end()
    return result


def _impact(console: Console, cases_path: str, ref_a: str, ref_b: str, policies_dir: str | None, jobs: int,
            timeout: float | None, fmt: str) -> int:
    """``diff --cases``: a case library decided under both policies, the cases that change."""
    from engine.analysing.findings import impact_json, impact_text
    from engine.analysing.impact import impact
    from engine.deciding import read_inputs
    from engine.presenting import dumps

    items, total = read_inputs(cases_path, count=bool(console.progress and console.tty))
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        console.status(f"{done}{f'/{total}' if total else ''} cases decided under both policies")

    result = impact(items, ref_a, ref_b, policies_dir=policies_dir, jobs=jobs or (os.cpu_count() or 1),
                    timeout=timeout, progress=tick)
    console.end()
    console.out(dumps(impact_json(result)) if fmt == "json" else impact_text(result))
    if result.timed_out:
        console.err(f"stopped after --timeout {timeout:g}s: {result.cases} cases compared")
        return USAGE
    return FINDINGS if result.changed or result.errors else OK


def check(console: Console, policy_ref: str, *, policies_dir: str | None, levels: tuple[str, ...],
          timeout: float | None, emit_dir: str | None) -> int:
    """One policy's totality, dead and irrelevant criteria, searched in a child within ``timeout``."""
    from engine.analysing import check as search
    from engine.analysing.findings import check_text
    from engine.deciding import Stopped, limited, load

    _known_levels(levels)
    policy = load(policy_ref, policies_dir)
    target = prepare_emit(emit_dir, [policy.folder])
    result = search.CheckResult(policy.id, policy.version, tuple(c.id for c in policy.criteria))
    total = 1 + len(result.criteria)
    for event in limited(lambda: search.check_events(policy, levels=levels or search.CHECK_LEVELS), timeout=timeout):
        if isinstance(event, Stopped):
            result.stopped = event.detail
            break
        result.add(event)
        console.status(f"{total - len(result.unanswered)}/{total} questions answered")
    console.end()
    console.out(check_text(result))
    if target is not None:
        cases = list(result.relevant_witness.values())
        if result.totality_witness is not None:
            cases.append(result.totality_witness)
        emit(console, target, case_files([(case, []) for case in cases]))
    if result.problems:
        raise UserError(CONFIRM_FAILED)
    if result.findings:
        return FINDINGS
    if not result.complete:
        console.err("not everything was proved: see the lines marked ? above")
        return USAGE
    return OK


# ---------------------------------------------------------------------------
# witness files (--emit)
# ---------------------------------------------------------------------------


def prepare_emit(emit_dir: str | None, policy_folders: list[Path]) -> Path | None:
    """The --emit folder, checked before any search (not a file, not in a policy folder, writable)."""
    if not emit_dir:
        return None
    from engine.presenting import prepare_folder

    return prepare_folder(emit_dir, "--emit", [(folder, "policy") for folder in policy_folders])


def case_files(cases: list[tuple[dict, list[str]]]) -> dict[str, str]:
    """Witness case files for ``emit``, by case id: each case as YAML under its header comment lines."""
    import yaml

    return {case["case"]: "".join(f"# {line}\n" for line in header)
            + yaml.safe_dump(case, sort_keys=False, allow_unicode=True) for case, header in cases}


def emit(console: Console, folder: Path, files: dict[str, str], printed: bool = False) -> None:
    """Write each witness case file (name: text) whole into ``folder``.

    When that fails the witnesses are not lost: each case file is printed
    (unless ``printed``, when the output already holds them) and a
    ``UserError`` says so (exit 2).
    """
    import re

    from engine.presenting import output

    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            # a case id comes from policy ids, which a header may spell with a '/': never a path
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "witness"
            output.write_whole(folder / f"{safe}.yaml", text)
    except (OSError, UserError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if not printed:
            console.out("# witness cases not written to {folder}: each YAML document below is one case file"
                        .format(folder=folder), nl=True)
            for text in files.values():
                console.out("---", nl=True)
                console.out(text)
        raise UserError(f"--emit {folder}: cannot write ({reason}): the witnesses are printed above; "
                        "give a folder that can be written") from None
