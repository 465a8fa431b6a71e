"""The crawler's rules: canonical URLs, same host, robots.txt, limits, sitemaps, ids."""

from __future__ import annotations

import pytest
from tandem_answering.domain.crawling import (
    CrawlLimits,
    Frontier,
    RobotsRules,
    canonicalize,
    document_id_for_url,
    host_of,
    is_public_address,
    parse_sitemap,
    title_from_url,
)
from tandem_answering.domain.documents import DOCUMENT_ID
from tandem_answering.domain.errors import InvalidDocumentError

pytestmark = pytest.mark.unit

ROBOTS = """
User-agent: *
Disallow: /private/
Crawl-delay: 3

User-agent: OtherBot
Disallow: /
"""


def frontier(max_pages: int = 10, robots: str = ROBOTS) -> Frontier:
    return Frontier(
        host="help.example.com",
        robots=RobotsRules.from_text(robots),
        limits=CrawlLimits(max_pages=max_pages),
    )


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Help.Example.COM:443/a/./b/../c#top", "https://help.example.com/a/c"),
        ("http://help.example.com:8080", "http://help.example.com:8080/"),
        ("https://x.test/p?utm_source=news&b=2&a=1&gclid=9", "https://x.test/p?a=1&b=2"),
        ("https://x.test/with space", "https://x.test/with%20space"),
        ("https://x.test/%7Euser/", "https://x.test/%7Euser/"),
        ("mailto:help@x.test", None),
        ("javascript:alert(1)", None),
        ("ftp://x.test/file", None),
        ("https://user:secret@x.test/", None),
        ("https://x.test:99999/", None),
        # Control characters (a schemathesis run sent a NUL and a DEL; PostgreSQL's JSON
        # cannot store the NUL) and host names DNS could never be asked about.
        ("http://\u0000\u00d5\u00e1\u007f", None),
        ("http://\u00d5\u00e1\u007f", None),
        ("https://x.test/a\u0085b", None),
        ("https://" + "a" * 64 + ".test/", None),
        ("https://" + ".".join(["abcdefgh"] * 30) + "/", None),
        ("https://b\u00fccher.test/", "https://b\u00fccher.test/"),
        ("https://my_host.internal/", "https://my_host.internal/"),
        ("https://x.test/wrapped\n/href", "https://x.test/wrapped/href"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/"),
    ],
)
def test_canonical_urls(url: str, canonical: str | None) -> None:
    assert canonicalize(url) == canonical


def test_relative_links_resolve_against_the_page() -> None:
    assert canonicalize("../b", "https://x.test/docs/a/") == "https://x.test/docs/b"
    assert canonicalize("?page=2", "https://x.test/list") == "https://x.test/list?page=2"
    assert canonicalize("#section", "https://x.test/a") == "https://x.test/a"


def test_frontier_keeps_to_one_host_and_fetches_each_page_once() -> None:
    f = frontier()
    assert f.offer("/start", "https://help.example.com/") == (
        "queued",
        "https://help.example.com/start",
    )
    assert f.offer("https://help.example.com/start#again")[0] == "seen"
    assert f.offer("https://HELP.example.com/start?utm_campaign=x")[0] == "seen"
    assert f.offer("https://other.example.com/page")[0] == "ignored"
    assert f.offer("http://help.example.com:8443/x")[0] == "ignored"  # another port
    assert f.offer("https://help.example.com/logo.png")[0] == "ignored"
    assert f.offer("https://help.example.com/manual.pdf")[0] == "queued"
    assert f.queued == 2


def test_frontier_obeys_robots_txt() -> None:
    f = frontier()
    assert f.offer("https://help.example.com/private/salaries")[0] == "disallowed"
    assert f.offer("https://help.example.com/private/salaries")[0] == "seen"  # reported once
    assert f.offer("https://help.example.com/public")[0] == "queued"
    nothing = frontier(robots="User-agent: *\nDisallow: /\n")
    assert nothing.offer("https://help.example.com/")[0] == "disallowed"
    assert RobotsRules.forbidding_everything().allows("https://help.example.com/") is False
    assert RobotsRules.allowing_everything().allows("https://help.example.com/private/") is True


def test_frontier_stops_queueing_at_max_pages() -> None:
    f = frontier(max_pages=2)
    results = [f.offer(f"https://help.example.com/p{i}")[0] for i in range(5)]
    assert results == ["queued", "queued", "over_limit", "over_limit", "over_limit"]
    assert (f.queued, f.over_limit) == (2, 3)


def test_claim_detects_duplicates_reached_by_redirect_or_canonical_link() -> None:
    f = frontier()
    f.offer("https://help.example.com/a")
    assert f.claim("https://help.example.com/a") is False
    assert f.claim("https://help.example.com/canonical-a") is True
    assert f.claim("https://help.example.com/canonical-a") is False


def test_limits_and_polite_delay() -> None:
    limits = CrawlLimits(delay_seconds=0.5, max_delay_seconds=10)
    assert limits.polite_delay(RobotsRules.from_text(ROBOTS)) == 3.0
    assert limits.polite_delay(RobotsRules.from_text("User-agent: *\nCrawl-delay: 600")) == 10
    assert limits.polite_delay(RobotsRules.allowing_everything()) == 0.5
    with pytest.raises(InvalidDocumentError):
        CrawlLimits(max_pages=0)
    with pytest.raises(InvalidDocumentError):
        CrawlLimits(max_page_bytes=10_000, max_total_bytes=5_000)
    with pytest.raises(InvalidDocumentError):
        CrawlLimits(concurrency=0)


def test_sitemaps_list_pages_or_further_sitemaps() -> None:
    urlset = b"""<?xml version="1.0" encoding="UTF-8"?>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc>https://x.test/a</loc><lastmod>2024-01-01</lastmod></url>
      <url><loc> https://x.test/b </loc></url>
    </urlset>"""
    assert parse_sitemap(urlset).pages == ("https://x.test/a", "https://x.test/b")
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://x.test/sitemap-docs.xml</loc></sitemap></sitemapindex>"""
    assert parse_sitemap(index).sitemaps == ("https://x.test/sitemap-docs.xml",)
    with pytest.raises(InvalidDocumentError, match="DTD"):
        parse_sitemap(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>')
    with pytest.raises(InvalidDocumentError, match="well-formed"):
        parse_sitemap(b"<urlset><url>")
    with pytest.raises(InvalidDocumentError, match="not a sitemap"):
        parse_sitemap(b"<html><body/></html>")


def test_document_ids_derive_from_the_url_and_never_collide() -> None:
    assert document_id_for_url("https://help.example.com/docs/returns/") == (
        "help.example.com:docs:returns"
    )
    assert document_id_for_url("http://127.0.0.1:8123/") == "127.0.0.1_8123"
    with_query = document_id_for_url("https://x.test/list?page=2")
    assert with_query.startswith("x.test:list~") and with_query != document_id_for_url(
        "https://x.test/list?page=3"
    )
    assert document_id_for_url("https://x.test/a b") != document_id_for_url("https://x.test/a-b")
    long_id = document_id_for_url("https://x.test/" + "/".join(["segment"] * 60))
    assert len(long_id) <= 200
    for url in ("https://x.test/ü/ß", "https://x.test/" + "é" * 300, "https://x.test/:::"):
        assert DOCUMENT_ID.match(document_id_for_url(url))
    assert host_of("https://x.test:8080/a") == "x.test:8080"


def test_fallback_titles_and_public_addresses() -> None:
    assert title_from_url("https://x.test/docs/getting-started.html") == "Getting started"
    assert title_from_url("https://x.test/") == "x.test"
    for private in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fd00::1"):
        assert not is_public_address(private), private
    assert not is_public_address("::ffff:10.0.0.1")
    assert is_public_address("93.184.216.34")
