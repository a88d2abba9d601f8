"""Exception types raised by the :mod:`devmapper` package."""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple, Type

__all__ = ["DMError"]


class DMError(OSError):
    """A libdevmapper call failed.

    ``errno`` is the errno of the failing device-mapper ioctl
    (``dm_task_get_errno``) or, failing that, an errno the library reported
    with its error message; it is ``None`` when neither is known (for example
    when the library rejected an argument before talking to the kernel).

    ``messages`` holds the library's own error text for this call (the
    ``log_error`` lines it emitted through the log callback), ``operation``
    names what was attempted ("create", "reload", ...) and ``device`` the
    device or target the call was about, when there is one.
    """

    def __init__(
        self,
        errno: Optional[int],
        message: str,
        *,
        operation: Optional[str] = None,
        device: Optional[str] = None,
        messages: Sequence[str] = (),
    ) -> None:
        if errno:
            super().__init__(errno, message)
        else:
            super().__init__(message)
        self.message: str = message
        self.operation: Optional[str] = operation
        self.device: Optional[str] = device
        self.messages: Tuple[str, ...] = tuple(messages)

    @classmethod
    def from_call(
        cls,
        errno: Optional[int],
        messages: Sequence[str],
        *,
        operation: str,
        device: Optional[str] = None,
    ) -> "DMError":
        """Build an error from a failed call's errno and captured messages."""
        if messages:
            text = "; ".join(messages)
        else:
            what = operation if device is None else f"{operation} {device!r}"
            text = f"{what} failed"
            if errno:
                text += f": {os.strerror(errno)}"
        return cls(errno or None, text, operation=operation, device=device,
                   messages=messages)

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        return (
            _rebuild,
            (type(self), self.errno, self.message, self.operation,
             self.device, self.messages),
        )


def _rebuild(
    cls: Type[DMError],
    errno: Optional[int],
    message: str,
    operation: Optional[str],
    device: Optional[str],
    messages: Sequence[str],
) -> DMError:
    return cls(errno, message, operation=operation, device=device,
               messages=messages)
