"""Fetching a site's pages over HTTP for a crawl (httpx), politely and within limits.

The rules (what is in scope, what robots.txt allows, what the limits are) live in
``domain/crawling.py``; this adapter only does the requests, and enforces per request:

* **pace and concurrency**: at most ``limits.concurrency`` requests in flight, their
  starts at least ``delay`` seconds apart (the site's ``Crawl-delay`` raises it);
* **timeouts**: connect, read, and a ceiling for the whole page;
* **size**: the body is streamed and abandoned past ``limits.max_page_bytes`` (after
  decompression, so a small gzip bomb is a large page);
* **content**: only HTML and PDF bodies are read; redirects are followed by hand (five at
  most) and only within the host and what robots.txt allows;
* **addresses**: unless ``allow_private_networks``, a host that resolves to a loopback,
  private, link-local or otherwise non-public address is refused, so a crawl started
  from the dashboard cannot reach the platform's internal services.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ..domain.crawling import (
    CRAWLABLE_TYPES,
    USER_AGENT,
    CrawlLimits,
    RobotsRules,
    canonicalize,
    charset_of,
    host_of,
    is_public_address,
    media_type,
)

MAX_REDIRECTS = 5
MAX_ROBOTS_BYTES = 512 * 1024
MAX_SITEMAP_BYTES = 20 * 1024 * 1024
SITEMAP_TYPES = frozenset(
    {"application/xml", "text/xml", "application/gzip", "application/x-gzip", "text/plain", ""}
)


class FetchSkipped(Exception):
    """The URL is not fetched, by the rules (too big, not a page, off-site redirect...)."""


class FetchFailed(Exception):
    """The URL could not be fetched (an HTTP error status, a timeout, a network error)."""


class RobotsUnavailable(Exception):
    """robots.txt could not be read for a reason that forbids crawling (RFC 9309: a 5xx
    answer or no answer means the whole site is off limits)."""


@dataclass(frozen=True, slots=True)
class FetchedPage:
    #: Canonical URL the body came from (after redirects).
    url: str
    media_type: str
    charset: str | None
    body: bytes


class HttpFetcher:
    def __init__(
        self,
        limits: CrawlLimits,
        *,
        timeout_seconds: float = 20.0,
        allow_private_networks: bool = False,
        user_agent: str = f"{USER_AGENT}/1.0 (knowledge-base crawler)",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.limits = limits
        self.delay = limits.delay_seconds
        self.timeout_seconds = timeout_seconds
        self.allow_private_networks = allow_private_networks
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
            follow_redirects=False,
            headers={
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,*/*;q=0.1",
            },
            limits=httpx.Limits(max_connections=limits.concurrency),
            transport=transport,
        )
        self._slots = asyncio.Semaphore(limits.concurrency)
        self._pace = asyncio.Lock()
        self._next_start = 0.0
        self._checked_hosts: dict[str, str | None] = {}  # host -> refusal reason or None

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- public ---------------------------------------------------------------------------

    async def robots(self, origin: str) -> RobotsRules:
        try:
            status, _, body, _ = await self._get(
                f"{origin}/robots.txt", MAX_ROBOTS_BYTES, accept=None, robots=None
            )
        except (FetchFailed, FetchSkipped) as exc:
            raise RobotsUnavailable(f"robots.txt could not be read ({exc})") from None
        if 400 <= status < 500:
            return RobotsRules.allowing_everything()
        if status >= 500:
            raise RobotsUnavailable(f"robots.txt answered HTTP {status}")
        return RobotsRules.from_text(body.decode("utf-8", errors="replace"))

    async def fetch(self, url: str, robots: RobotsRules) -> FetchedPage:
        status, final, body, content_type = await self._get(
            url, self.limits.max_page_bytes, accept=CRAWLABLE_TYPES, robots=robots
        )
        if status >= 400:
            raise FetchFailed(f"HTTP {status}")
        return FetchedPage(final, media_type(content_type), charset_of(content_type), body)

    async def sitemap(self, url: str, robots: RobotsRules) -> bytes:
        status, _, body, _ = await self._get(
            url, MAX_SITEMAP_BYTES, accept=SITEMAP_TYPES, robots=robots
        )
        if status >= 400:
            raise FetchFailed(f"the sitemap answered HTTP {status}")
        if body[:2] == b"\x1f\x8b":
            try:
                inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                body = inflater.decompress(body, MAX_SITEMAP_BYTES)
            except (zlib.error, gzip.BadGzipFile) as exc:
                raise FetchFailed(f"the sitemap is not valid gzip ({exc})") from None
        return body

    # -- plumbing -------------------------------------------------------------------------

    async def _get(
        self,
        url: str,
        max_bytes: int,
        *,
        accept: frozenset[str] | None,
        robots: RobotsRules | None,
    ) -> tuple[int, str, bytes, str | None]:
        """(status, final URL, body, content type) of a GET, redirects followed by hand."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            await self._check_address(current)
            try:
                async with asyncio.timeout(self.timeout_seconds * 3):
                    result = await self._request(current, max_bytes, accept)
            except TimeoutError:
                raise FetchFailed(f"timed out after {self.timeout_seconds * 3:.0f} s") from None
            except httpx.HTTPError as exc:
                raise FetchFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
            status, location, body, content_type = result
            if location is None:
                return status, current, body, content_type
            target = canonicalize(location, current)
            if target is None or host_of(target) != host_of(current):
                raise FetchSkipped(f"redirects to another site ({location[:200]})")
            if robots is not None and not robots.allows(target):
                raise FetchSkipped(f"redirects to {target}, which robots.txt disallows")
            current = target
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")

    async def _request(
        self, url: str, max_bytes: int, accept: frozenset[str] | None
    ) -> tuple[int, str | None, bytes, str | None]:
        async with self._slots:
            await self._wait_turn()
            async with self._client.stream("GET", url) as response:
                content_type = response.headers.get("content-type")
                if response.is_redirect and response.headers.get("location"):
                    return response.status_code, response.headers["location"], b"", content_type
                if response.status_code >= 400:
                    return response.status_code, None, b"", content_type
                media = media_type(content_type)
                if accept is not None and media not in accept:
                    raise FetchSkipped(f"not a page or PDF ({media or 'no content type'})")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchSkipped(f"larger than the {max_bytes} bytes allowed per page")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchSkipped(f"larger than the {max_bytes} bytes allowed per page")
                    chunks.append(chunk)
                return response.status_code, None, b"".join(chunks), content_type

    async def _wait_turn(self) -> None:
        """Space the starts of requests ``delay`` seconds apart."""
        async with self._pace:
            wait = self._next_start - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_start = time.monotonic() + self.delay

    async def _check_address(self, url: str) -> None:
        if self.allow_private_networks:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host not in self._checked_hosts:
            self._checked_hosts[host] = await self._refusal(host, parts.port)
        refusal = self._checked_hosts[host]
        if refusal:
            raise FetchSkipped(refusal)

    async def _refusal(self, host: str, port: int | None) -> str | None:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port or 443, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            return f"{host} does not resolve ({exc})"
        addresses = {str(info[4][0]) for info in infos}
        if not addresses or not all(is_public_address(a) for a in addresses):
            return f"{host} resolves to a private or local address; crawling it is not allowed"
        return None
