import io
import json
import logging

import pytest
from tandem_gateway.redaction import RedactVisitorTokens, redact
from tandem_platform.logging import JsonFormatter

pytestmark = pytest.mark.unit


def test_tokens_in_query_strings_are_blanked() -> None:
    line = (
        'GET "WebSocket /v1/widget/conversations/c/stream?token=eyJhbGc.sig&after_seq=3" [accepted]'
    )
    assert redact(line) == (
        'GET "WebSocket /v1/widget/conversations/c/stream?token=[redacted]&after_seq=3" [accepted]'
    )
    assert redact("/stream?after_seq=3&token=abc.def") == "/stream?after_seq=3&token=[redacted]"
    assert redact("nothing to hide") == "nothing to hide"


def test_the_filter_rewrites_records_with_arguments() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("gateway"))
    handler.addFilter(RedactVisitorTokens())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning('%s - "WebSocket %s" [accepted]', "127.0.0.1:5", "/s?token=secret.sig")
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert "secret" not in entry["msg"]
    assert "token=[redacted]" in entry["msg"]
