"""The tool catalogue of spec/crm-contract.md. Importing this package registers every tool."""

from tools.catalogue import sales, service, delivery, knowledge, memory  # noqa: F401, I001  (catalogue order)
from tools.registry import REGISTRY

__all__ = ["REGISTRY"]
