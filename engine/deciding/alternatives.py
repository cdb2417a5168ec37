"""What-if answers as a reader takes them in: interchangeable criteria said once.

The solver returns every smallest set of criteria that would change a
decision.  Where several sets differ in one criterion only ("REF-D4a and
REF-F1", "REF-D4a and REF-F2", ...), they say one thing: "REF-D4a and one of
REF-F1, REF-F2".  This module only regroups what the solver found; every set
it stands for is still a set the solver found (``WouldChange.alternatives``).

Where the policy's declared tree asks for at least K of some criteria
(``n_of``, engine/deciding/trees.py), sets that differ only in which K of
them they take say "any K of ...", once the solver found every such choice;
where it did not (a search stopped at its cap), they stay apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from math import comb

from engine.deciding.decision import CHANGE_KINDS, DETERMINATIONS, Assumption, WouldChange

_RANK = {name: i for i, name in enumerate((*DETERMINATIONS, "medically_necessary"))}


def grouped(changes: Iterable[WouldChange], key: Callable[[Assumption], tuple],
            pools: Sequence[tuple[int, frozenset[tuple[str, str]]]] = ()) -> tuple[WouldChange, ...]:
    """``changes`` (each a plain set) with sets that differ in one criterion merged into "one of" lines,
    and sets that take K of one ``n_of`` pool of the declared tree (``pools``: K and its criteria's
    (id, scope)) into "any K of" lines.

    Ordered: documentation to obtain before findings the record contradicts,
    the lower determination first, then by the criteria's order in the policy.
    """
    by_subject: dict[tuple[str, str], list[frozenset[Assumption]]] = defaultdict(list)
    for change in changes:
        by_subject[(change.kind, change.determination)].append(frozenset(change.requires))
    out = []
    for (kind, determination), sets in by_subject.items():
        several, sets = _several(sets, pools)
        for core, choices, choose in several:
            out.append(WouldChange(determination, tuple(sorted(core, key=key)), tuple(sorted(choices, key=key)), kind,
                                   choose))
        for core, choices in _merge(sets, key):
            out.append(WouldChange(determination, tuple(sorted(core, key=key)), tuple(sorted(choices, key=key)), kind))
    out.sort(key=lambda w: (CHANGE_KINDS.index(w.kind), _RANK.get(w.determination, 99),
                            len(w.requires) + (w.choose if w.one_of else 0), [key(a) for a in (*w.requires, *w.one_of)]))
    return tuple(out)


def _merge(sets: list[frozenset[Assumption]], key) -> list[tuple[frozenset[Assumption], tuple[Assumption, ...]]]:
    """Greedily the largest groups of sets sharing all but one criterion; the rest alone."""
    remaining = sorted(set(sets), key=lambda s: [key(a) for a in sorted(s, key=key)])
    out = []
    while remaining:
        cores: dict[frozenset[Assumption], list[tuple[Assumption, frozenset[Assumption]]]] = defaultdict(list)
        for members in remaining:
            for choice in members:
                cores[members - {choice}].append((choice, members))
        # the largest group; of equal ones, the one whose shared criteria come first
        core, group = min(cores.items(), key=lambda kv: (-len(kv[1]), [key(a) for a in sorted(kv[0], key=key)]))
        if len(group) < 2:
            out.extend((members, ()) for members in remaining)
            break
        out.append((core, tuple(choice for choice, _ in group)))
        taken = {members for _, members in group}
        remaining = [m for m in remaining if m not in taken]
    return out



def _several(sets: list[frozenset[Assumption]], pools) -> tuple[list[tuple[frozenset[Assumption], frozenset[Assumption], int]],
                                                           list[frozenset[Assumption]]]:
    """Groups of sets that share all but J (two or more) criteria of one ``n_of`` pool and take every
    J of the pool's criteria they name: (the shared criteria, the choices, J); and the sets left."""
    out = []
    for _k, pool in pools:
        groups: dict[tuple[frozenset[Assumption], int], list[frozenset[Assumption]]] = defaultdict(list)
        for members in sets:
            taken = frozenset(a for a in members if (a.criterion, a.scope) in pool)
            if len(taken) >= 2:
                groups[(members - taken, len(taken))].append(members)
        for (core, j), group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), sorted(map(repr, kv[0][0])))):
            if any(m not in sets for m in group):
                continue  # taken by an earlier group
            choices = frozenset(a for m in group for a in m - core)
            if len(group) < 2 or len(group) != comb(len(choices), j) or \
                    len({(a.criterion, a.scope) for a in choices}) != len(choices):
                continue  # not every choice of J was found (or one criterion under two statuses): set by set
            out.append((core, choices, j))
            sets = [m for m in sets if m not in group]
    return out, sets
