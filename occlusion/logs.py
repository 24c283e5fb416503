"""Status messages through :mod:`logging`, under the logger name ``occlusion``.

The library adds no handler of its own (a :class:`logging.NullHandler`, as libraries should); the command line and
the pipeline's stages call :func:`show_status`, which shows INFO and above on stderr, so a resumed run or a download
says what it does in the terminal and in the executed notebook.

Example:
    >>> import logging
    >>> show_status(logging.WARNING) is show_status()  # one handler however often it is called
    True
"""
from __future__ import annotations

import logging
import sys

__all__ = ["LOGGER", "show_status"]

LOGGER = "occlusion"
_FORMAT = "%(levelname)s %(name)s: %(message)s"


def show_status(level: int = logging.INFO) -> logging.Handler:
    """Show the package's messages at ``level`` and above on stderr; the handler (added once, then reused)."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level)
    for handler in logger.handlers:
        if getattr(handler, "occlusion_status", False):
            return handler
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.occlusion_status = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    return handler
