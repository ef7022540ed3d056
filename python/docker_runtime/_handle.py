"""What every holder of a library handle shares: `close()` frees the handle (once); `with`
closes it on the way out, and so does the garbage collector for one never closed."""

from __future__ import annotations

from typing import TypeVar

_T = TypeVar("_T", bound="Closing")


class Closing:
    """Subclasses define `close()`, and keep their handle in the attribute named by
    `_handle_attr` (None once freed)."""

    _handle_attr = "_h"

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, self._handle_attr, None):
            self.close()
