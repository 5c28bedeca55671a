"""How many rows an ``UPDATE`` or ``DELETE`` changed.

``AsyncSession.execute`` is typed to return a plain ``Result``; for those statements it
is a ``CursorResult``, whose ``rowcount`` is what a "written only if it still held what
was read" update checks.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def rows_changed(result: Result[Any]) -> int:
    return cast("CursorResult[Any]", result).rowcount
