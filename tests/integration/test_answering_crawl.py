"""Crawling, uploads and ingestion progress, end to end inside the answering service.

A real HTTP server (``http.server`` on 127.0.0.1, a random port, in a thread) serves a
small site: pages that link to each other, a robots.txt that disallows ``/private/``, a
sitemap, a PDF, a duplicate page with a canonical link, a ``noindex`` page, a JSON feed and
a broken link. The service crawls it with its real code (httpx, the parsers, the model,
a real Weaviate tenant, Postgres), and the tests check what was indexed, what was skipped
and why, that re-crawling changes nothing, and that progress events were published.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from tandem_answering.app import create_app
from tandem_answering.bootstrap import open_runtime
from tandem_answering.service_layer.crawling import CrawlRequest
from tandem_answering.service_layer.ingestion_jobs import build_ingestion_jobs
from tandem_answering.settings import AnsweringSettings
from tandem_events import KnowledgeIngestionProgressed, parse_event
from tandem_events.topics import KNOWLEDGE_EVENTS

from tests.integration.stack import Stack
from tests.integration.test_answering_service import TopicTail, service_settings

pytestmark = pytest.mark.integration


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, one page per list."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    page_ids = [4 + 2 * i for i in range(len(pages))]
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for lines in pages:
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops += [f"({escaped}) Tj", "T*"]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (len(objects) + 2)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info = None
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode("latin-1"))
        info = len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R" + (f" /Info {info} 0 R" if info else "")
    out += b"trailer\n" + trailer.encode() + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def page(title: str, body: str, head: str = "") -> bytes:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>{head}"
        # The server puts a new nonce here on every request, as many sites do.
        f"<script>var nonce = 'NONCE';</script></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/guide/returns.html'>Returns</a></nav>"
        f"<main>{body}</main><footer>Kettle Co, 1 High Street</footer></body></html>"
    ).encode()


MANUAL = make_pdf(
    [
        ["Kettle manual", "Descale the kettle every month with citric acid."],
        ["Warranty", "Every kettle has a two-year warranty from the day of delivery."],
    ],
    title="Kettle manual",
)


class KettleSite:
    """The site the tests crawl; counts the requests each path gets."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.pages: dict[str, tuple[int, str, bytes]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        html = "text/html; charset=utf-8"
        self.pages = {
            "/robots.txt": (200, "text/plain", b"User-agent: *\nDisallow: /private/\n"),
            "/": (
                200,
                html,
                page(
                    "Kettle Co help",
                    "<h1>Help centre</h1><p>Answers about your kettle.</p><ul>"
                    "<li><a href='/guide/returns.html'>Returns</a></li>"
                    "<li><a href='guide/shipping.html#intl'>Shipping</a></li>"
                    "<li><a href='/guide/shipping-print.html'>Shipping (print)</a></li>"
                    "<li><a href='/private/salaries.html'>Staff only</a></li>"
                    "<li><a href='/manual.pdf'>Manual (PDF)</a></li>"
                    "<li><a href='/draft.html'>Draft</a></li>"
                    "<li><a href='/blank.html'>Coming soon</a></li>"
                    "<li><a href='/feed'>Feed</a></li>"
                    "<li><a href='/gone.html'>Old page</a></li>"
                    "<li><a href='/logo.png'>Logo</a></li>"
                    "<li><a href='https://elsewhere.example/page'>Partner</a></li>"
                    "<li><a href='mailto:help@kettle.example'>Mail us</a></li></ul>",
                ),
            ),
            "/guide/returns.html": (
                200,
                html,
                page(
                    "Returns",
                    "<h1>Returns</h1><p>Send a kettle back within 30 days of delivery.</p>"
                    "<h2>Refunds</h2><p>Refunds reach your card within five business days.</p>",
                ),
            ),
            "/guide/shipping.html": (
                200,
                html,
                page(
                    "Shipping",
                    "<h1>Shipping</h1><h2 id='intl'>International</h2>"
                    "<p>International parcels take 7 to 12 business days.</p>",
                ),
            ),
            "/guide/shipping-print.html": (
                200,
                html,
                page(
                    "Shipping (print)",
                    "<h1>Shipping</h1><p>International parcels take 7 to 12 business days.</p>",
                    head="<link rel='canonical' href='/guide/shipping.html'>",
                ),
            ),
            "/private/salaries.html": (200, html, page("Salaries", "<p>Secret</p>")),
            "/manual.pdf": (200, "application/pdf", MANUAL),
            "/draft.html": (
                200,
                html,
                page("Draft", "<p>Not ready.</p>", head="<meta name='robots' content='noindex'>"),
            ),
            "/feed": (200, "application/json", b'{"items": []}'),
            "/blank.html": (200, html, page("Coming soon", "")),
            "/sitemap.xml": (
                200,
                "application/xml",
                (
                    b"<?xml version='1.0' encoding='UTF-8'?>"
                    b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                    b"<url><loc>{base}/guide/returns.html</loc></url>"
                    b"<url><loc>{base}/manual.pdf</loc></url>"
                    b"<url><loc>{base}/private/salaries.html</loc></url>"
                    b"<url><loc>https://elsewhere.example/x</loc></url>"
                    b"</urlset>"
                ),
            ),
        }
        status, kind, body = self.pages["/sitemap.xml"]
        self.pages["/sitemap.xml"] = (status, kind, body.replace(b"{base}", self.base.encode()))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                site.requests[path] = site.requests[path] + 1
                status, content_type, body = site.pages.get(path, (404, "text/plain", b"no"))
                body = body.replace(b"NONCE", uuid.uuid4().hex.encode())
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> KettleSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kettle_site() -> Iterator[KettleSite]:
    with KettleSite() as site:
        yield site


def settings_for(stack: Stack, schema: str) -> AnsweringSettings:
    return service_settings(
        stack,
        schema,
        # The test site is on 127.0.0.1, which production refuses to crawl.
        crawl_allow_private_networks=True,
        crawl_delay_seconds=0.0,
        job_progress_interval_seconds=0.0,
        upload_max_bytes=200_000,
        upload_wait_seconds=20.0,
    )


async def outbox_events(dsn: str, schema: str) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(f'SELECT value FROM "{schema}".outbox ORDER BY id')
        return [parse_event(bytes(row[0])) for row in await cur.fetchall()]


async def test_crawl_follows_links_within_the_rules_and_recrawls_idempotently(
    stack: Stack, drop_schema_after: str, kettle_site: KettleSite
) -> None:
    """Through the service layer (no relay runs, so the outbox keeps every event)."""
    site = f"kettle-{uuid.uuid4().hex[:8]}"
    settings = settings_for(stack, drop_schema_after)
    async with open_runtime(settings, require_calibration=False) as runtime:
        jobs = build_ingestion_jobs(settings, runtime.pool, runtime.ingestion)
        try:
            request = CrawlRequest(site, kettle_site.base + "/")
            job = await jobs.crawls.create_job(request)
            progress = await jobs.crawls.run(job, request)

            async with runtime.pool.connection() as conn:
                finished = await jobs.repository.get(conn, site, job.job_id)
                problems = await jobs.repository.items(
                    conn, job.job_id, outcomes=("failed", "skipped"), limit=100
                )
            assert finished is not None
            assert finished.state == "completed", finished.error
            why = {p.item.removeprefix(kettle_site.base): (p.outcome, p.reason) for p in problems}
            assert why["/private/salaries.html"] == ("skipped", "disallowed by robots.txt")
            assert why["/draft.html"][0] == "skipped" and "not to be indexed" in str(
                why["/draft.html"][1]
            )
            assert why["/guide/shipping-print.html"][0] == "skipped"
            assert "canonical" in str(why["/guide/shipping-print.html"][1])
            assert why["/feed"] == ("skipped", "not a page or PDF (application/json)")
            assert why["/gone.html"] == ("failed", "HTTP 404")
            assert why["/blank.html"][0] == "skipped" and "no text" in str(why["/blank.html"][1])
            assert len(why) == 6
            # robots.txt was read and obeyed; links elsewhere and to images never fetched.
            assert kettle_site.requests["/robots.txt"] == 1
            assert kettle_site.requests["/private/salaries.html"] == 0
            assert kettle_site.requests["/logo.png"] == 0
            assert all(kettle_site.requests[p] == 1 for p in ("/", "/guide/shipping.html"))
            assert (finished.done, finished.failed, finished.skipped) == (4, 1, 5)
            assert finished.total == 10

            documents, total = await runtime.ingestion.list_documents(site)
            host = kettle_site.base.removeprefix("http://").replace(":", "_")
            assert total == 4
            by_id = {d.document_id: d for d in documents}
            assert set(by_id) == {
                host,
                f"{host}:guide:returns.html",
                f"{host}:guide:shipping.html",
                f"{host}:manual.pdf",
            }
            returns = by_id[f"{host}:guide:returns.html"]
            assert (returns.title, returns.format) == ("Returns", "html")
            assert returns.url == kettle_site.base + "/guide/returns.html"
            manual = by_id[f"{host}:manual.pdf"]
            assert (manual.title, manual.format, manual.url) == (
                "Kettle manual",
                "pdf",
                kettle_site.base + "/manual.pdf",
            )
            found = await runtime.ingestion.get(site, f"{host}:guide:returns.html")
            assert found is not None
            assert [c.heading_path for c in found[1]] == [("Returns",), ("Returns", "Refunds")]
            assert "Kettle Co, 1 High Street" not in " ".join(c.text for c in found[1])

            # The crawled pages answer questions, with the page as the source.
            answer = await runtime.answerer.answer(site, "How long do refunds take?")
            assert answer.best is not None
            assert answer.best.document_id == f"{host}:guide:returns.html"
            warranty = await runtime.answerer.answer(site, "How long is the kettle warranty?")
            assert warranty.best is not None and warranty.best.document_id == f"{host}:manual.pdf"

            # Progress went to the outbox: running events, then one completed with the totals.
            events = [
                e
                for e in await outbox_events(stack.postgres_dsn, drop_schema_after)
                if isinstance(e, KnowledgeIngestionProgressed) and e.job_id == job.job_id
            ]
            assert progress.events_published == len(events) >= 3
            assert [e.state for e in events[:-1]] == ["running"] * (len(events) - 1)
            final = events[-1]
            assert (final.state, final.job_kind, final.site_id) == ("completed", "crawl", site)
            assert (final.done, final.failed, final.skipped, final.total) == (4, 1, 5, 10)
            assert final.conversation_id == uuid.UUID(int=0)
            assert [e.done for e in events] == sorted(e.done for e in events)

            # Re-crawling: the pages (their scripts carry a new nonce each time) are unchanged.
            again_request = CrawlRequest(site, kettle_site.base + "/")
            again = await jobs.crawls.create_job(again_request)
            await jobs.crawls.run(again, again_request)
            async with runtime.pool.connection() as conn:
                items = await jobs.repository.items(
                    conn, again.job_id, outcomes=("indexed", "unchanged"), limit=100
                )
            assert sorted(i.outcome for i in items) == ["unchanged"] * 4

            # A changed page is replaced, the others stay as they are.
            status, kind, _ = kettle_site.pages["/guide/returns.html"]
            kettle_site.pages["/guide/returns.html"] = (
                status,
                kind,
                page("Returns", "<h1>Returns</h1><p>Send a kettle back within 60 days.</p>"),
            )
            third_request = CrawlRequest(site, kettle_site.base + "/", max_pages=2)
            third = await jobs.crawls.create_job(third_request)
            await jobs.crawls.run(third, third_request)
            async with runtime.pool.connection() as conn:
                third_done = await jobs.repository.get(conn, site, third.job_id)
                outcomes = {
                    i.item.removeprefix(kettle_site.base): i.outcome
                    for i in await jobs.repository.items(
                        conn, third.job_id, outcomes=("indexed", "unchanged"), limit=100
                    )
                }
            assert outcomes == {"/": "unchanged", "/guide/returns.html": "indexed"}
            assert third_done is not None and third_done.note is not None
            assert "beyond max_pages (2)" in third_done.note
            replaced = await runtime.ingestion.get(site, f"{host}:guide:returns.html")
            assert replaced is not None and "60 days" in replaced[1][0].text
        finally:
            await runtime.ingestion.delete_site(site)


async def test_sitemap_crawl_and_a_site_whose_robots_txt_fails(
    stack: Stack, drop_schema_after: str, kettle_site: KettleSite
) -> None:
    site = f"kettle-{uuid.uuid4().hex[:8]}"
    settings = settings_for(stack, drop_schema_after)
    async with open_runtime(settings, require_calibration=False) as runtime:
        jobs = build_ingestion_jobs(settings, runtime.pool, runtime.ingestion)
        try:
            request = CrawlRequest(site, kettle_site.base + "/sitemap.xml", sitemap=True)
            job = await jobs.crawls.create_job(request)
            await jobs.crawls.run(job, request)
            async with runtime.pool.connection() as conn:
                finished = await jobs.repository.get(conn, site, job.job_id)
            assert finished is not None and finished.state == "completed", finished
            # The sitemap's pages only (no links followed), robots.txt still obeyed.
            assert (finished.done, finished.skipped, finished.failed) == (2, 1, 0)
            assert kettle_site.requests["/"] == 0
            assert kettle_site.requests["/private/salaries.html"] == 0

            # RFC 9309: robots.txt answering 5xx means the site may not be crawled at all.
            kettle_site.pages["/robots.txt"] = (503, "text/plain", b"down")
            blocked_request = CrawlRequest(site, kettle_site.base + "/")
            blocked = await jobs.crawls.create_job(blocked_request)
            await jobs.crawls.run(blocked, blocked_request)
            async with runtime.pool.connection() as conn:
                refused = await jobs.repository.get(conn, site, blocked.job_id)
            assert refused is not None and refused.state == "failed"
            assert refused.error == "robots.txt answered HTTP 503"
            assert kettle_site.requests["/"] == 0
        finally:
            await runtime.ingestion.delete_site(site)


@pytest.fixture
async def running_app(stack: Stack, drop_schema_after: str) -> AsyncIterator[FastAPI]:
    app = create_app(settings_for(stack, drop_schema_after))
    async with app.router.lifespan_context(app):
        yield app


async def wait_for_job(http: AsyncClient, path: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await http.get(path)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["state"] != "running":
            return body
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{path} still running")


async def test_admin_api_crawls_uploads_and_publishes_progress(
    running_app: FastAPI, stack: Stack, kettle_site: KettleSite
) -> None:
    site = f"kettle-{uuid.uuid4().hex[:8]}"
    tail = TopicTail(stack.kafka_bootstrap, KNOWLEDGE_EVENTS)
    await tail.start()
    try:
        async with AsyncClient(
            transport=ASGITransport(app=running_app), base_url="http://answering"
        ) as http:
            started = await http.post(
                f"/v1/admin/sites/{site}/crawls",
                json={"start_url": kettle_site.base + "/", "max_pages": 20},
            )
            assert started.status_code == 202, started.text
            job_id = started.json()["job_id"]
            assert started.json()["state"] == "running"
            second = await http.post(
                f"/v1/admin/sites/{site}/crawls", json={"start_url": kettle_site.base + "/"}
            )
            assert second.status_code == 409
            crawl = await wait_for_job(http, f"/v1/admin/sites/{site}/crawls/{job_id}")
            assert crawl["state"] == "completed", crawl
            assert (crawl["done"], crawl["failed"], crawl["skipped"]) == (4, 1, 5)
            reasons = {
                p["item"].removeprefix(kettle_site.base): p["reason"] for p in crawl["problems"]
            }
            assert reasons["/private/salaries.html"] == "disallowed by robots.txt"
            listed = (await http.get(f"/v1/admin/sites/{site}/crawls")).json()["jobs"]
            assert [j["job_id"] for j in listed] == [job_id]
            assert (
                await http.get(f"/v1/admin/sites/{site}/crawls/{uuid.uuid4()}")
            ).status_code == 404
            bad = await http.post(
                f"/v1/admin/sites/{site}/crawls", json={"start_url": "ftp://x.test/"}
            )
            assert bad.status_code == 422

            # Uploads: a PDF, an HTML page, and what is refused.
            guide = make_pdf([["Descaling guide", "Use citric acid once a month."]])
            uploaded = await http.post(
                f"/v1/admin/sites/{site}/uploads",
                files={"file": ("Descaling Guide.pdf", guide, "application/pdf")},
                data={"url": "https://kettle.example/descaling.pdf"},
            )
            assert uploaded.status_code == 200, uploaded.text
            body = uploaded.json()
            assert (body["kind"], body["state"], body["unit"]) == (
                "upload",
                "completed",
                "passages",
            )
            assert body["result"]["status"] == "indexed"
            assert body["result"]["document"]["document_id"] == "Descaling-Guide"
            assert body["result"]["document"]["format"] == "pdf"
            assert body["result"]["document"]["title"] == "Descaling guide"
            polled = await http.get(f"/v1/admin/sites/{site}/uploads/{body['job_id']}")
            assert polled.json()["state"] == "completed"
            html = await http.post(
                f"/v1/admin/sites/{site}/uploads",
                files={
                    "file": (
                        "faq.htm",
                        b"<title>FAQ</title><h2>Kettles</h2><p>Yes.</p>",
                        "text/html",
                    )
                },
                data={"document_id": "faq", "title": "Kettle FAQ"},
            )
            assert html.status_code == 200, html.text
            assert html.json()["result"]["document"]["title"] == "Kettle FAQ"
            scanned = await http.post(
                f"/v1/admin/sites/{site}/uploads",
                files={"file": ("scan.pdf", make_pdf([[]]), "application/pdf")},
            )
            assert scanned.status_code == 422
            assert "scanned PDF without a text layer" in scanned.json()["detail"]
            sheet = await http.post(
                f"/v1/admin/sites/{site}/uploads",
                files={"file": ("prices.xlsx", b"PK\x03\x04...", "application/vnd.ms-excel")},
            )
            assert sheet.status_code == 415
            huge = await http.post(
                f"/v1/admin/sites/{site}/uploads",
                files={"file": ("big.txt", b"word " * 60_000, "text/plain")},
            )
            assert huge.status_code == 413

            # The relay published the progress events: the crawl's last says completed.
            found = await tail.find(
                lambda e: (
                    isinstance(e, KnowledgeIngestionProgressed)
                    and str(e.job_id) == job_id
                    and e.state == "completed"
                )
            )
            final = found[0][0]
            assert (final.done, final.failed, final.skipped) == (4, 1, 5)
            assert found[0][1]["ce_type"] == "dev.tandem.KnowledgeIngestionProgressed.v1"
    finally:
        await tail.stop()
        await running_app.state.runtime.ingestion.delete_site(site)
