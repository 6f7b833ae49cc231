"""Due dates said in words, resolved in code: the shared implementation lives in tools/dates.py
(agents resolve "end of March" / "下周五" with the same code); this module re-exports it."""

from tools.dates import find_due_date, resolve_date, resolve_due_date

__all__ = ["find_due_date", "resolve_date", "resolve_due_date"]
