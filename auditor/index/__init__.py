"""What the scanned code is: per-module facts and the project index built from them."""

from auditor.index.facts import ModuleFacts
from auditor.index.project import ProjectIndex, Route

__all__ = ["ModuleFacts", "ProjectIndex", "Route"]
