"""Keeps visitor tokens out of the logs.

Browsers cannot set headers on a websocket, so the stream takes its token in the query
string, and uvicorn logs every websocket handshake with its full URL. A token in a log is
a credential anyone with log access could replay; this filter blanks it wherever it occurs.
"""

from __future__ import annotations

import logging
import re

_TOKEN_IN_QUERY = re.compile(r"(?i)([?&]token=)[^&\s\"']+")


def redact(text: str) -> str:
    return _TOKEN_IN_QUERY.sub(r"\1[redacted]", text)


class RedactVisitorTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install_token_redaction() -> None:
    """Attach the filter to every handler of the root logger (call after configuring logs)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactVisitorTokens())
