"""Text from case files reaches the terminal as text, never as control sequences.

A title or an error message may carry bytes a terminal acts on (``\\x1b[31m`` recolours it, other
escape sequences move the cursor or set the window title). The command line writes through
:class:`SafeStream`, which shows every C0 control character but tab, newline and carriage return,
DEL and every C1 control character as a visible ``\\xNN``.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """``text`` with terminal control characters written as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", str(text))


class SafeStream:
    """A text stream that writes :func:`printable` text to the stream it wraps."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(printable(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
