"""What is wrong with a file a user gave: where (file, line, field path) and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a case file."""

    path: str  # field path, or "" for the whole document
    line: int | None
    message: str


class CaseFileError(Exception):
    """A case file that cannot be used, with every problem found in it."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = []
        for p in self.problems:
            where = self.source + (f":{p.line}" if p.line else "")
            field = f" {p.path}:" if p.path else ""
            lines.append(f"{where}:{field} {p.message}")
        return "\n".join(lines)
