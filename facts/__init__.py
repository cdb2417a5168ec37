"""The case model and its emission as ASP atoms."""

from facts.emit import anatomy, case_atoms
from facts.load import CaseFileError, load_case, parse_case
from facts.model import Case

__all__ = ["Case", "CaseFileError", "anatomy", "case_atoms", "load_case", "parse_case"]
