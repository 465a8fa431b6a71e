"""The rules of crawling a site into its knowledge base, free of any I/O.

* **Scope**: one host (the start URL's, or the sitemap's), ``http``/``https`` only; links
  elsewhere are ignored, not reported.
* **Identity**: a URL is canonicalised (lower-case scheme and host, no default port, no
  fragment, dot segments resolved, tracking parameters dropped, query sorted) before it is
  compared, so one page is fetched once; a page's ``<link rel="canonical">`` on the same
  host counts as its URL. A page's document id derives from that URL
  (``document_id_for_url``), so re-crawling replaces the same documents.
* **Manners**: ``robots.txt`` (``RobotsRules``, the standard library's parser) decides
  what may be fetched, and its ``Crawl-delay`` slows the crawl down, never up.
* **Limits** (``CrawlLimits``): pages per crawl, bytes per page and in all.

``Frontier`` applies scope, identity, manners and the page limit to every URL offered to it
and says which ones to fetch.
"""

from __future__ import annotations

import hashlib
import ipaddress
import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from .documents import DOCUMENT_ID
from .errors import InvalidDocumentError

USER_AGENT = "TandemBot"
CRAWLABLE_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/pdf"})

# Query parameters that only say where a visitor came from.
_TRACKING = re.compile(r"^(utm_[a-z]+|gclid|fbclid|msclkid|mc_cid|mc_eid|_ga|ref|ref_src)$", re.I)
# Links to files that are certainly neither a page nor a PDF: not worth a request.
_NOT_A_PAGE = re.compile(
    r"\.(png|jpe?g|gif|webp|svg|ico|bmp|tiff?|css|js|mjs|json|xml|rss|atom|zip|gz|tgz|bz2|xz|"
    r"7z|rar|tar|exe|dmg|msi|deb|rpm|apk|iso|mp3|mp4|m4a|m4v|mov|avi|wmv|webm|ogg|wav|flac|"
    r"woff2?|ttf|otf|eot|docx?|xlsx?|pptx?|odt|ods|csv)$",
    re.I,
)
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._~-]+")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def canonicalize(url: str, base: str | None = None) -> str | None:
    """The canonical form of ``url`` (resolved against ``base``), or None when it is not a
    crawlable web address (another scheme, credentials, no host, a host name no resolver
    could look up, control characters, malformed)."""
    if _CONTROL.search(url):
        return None
    try:
        absolute = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(absolute)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    elif not _resolvable(host):
        return None
    if port is not None and port != (80 if scheme == "http" else 443):
        host = f"{host}:{port}"
    path = _resolve_dots(parts.path or "/")
    path = quote(path, safe=_PATH_SAFE)
    query_pairs = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    query = urlencode(sorted(query_pairs), doseq=True)
    return urlunsplit((scheme, host, path, query, ""))


# C0 and C1 control characters and DEL: no part of a URL may hold one (and PostgreSQL's
# JSON cannot store a NUL). Tabs and line breaks are left to urlsplit, which drops them
# as browsers do (an href may be wrapped).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _resolvable(host: str) -> bool:
    """Whether ``host`` is a name DNS could be asked about: IDNA-encodable, labels of
    1-63 characters, at most 253 in all."""
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        return False
    return 0 < len(encoded) <= 253 and all(0 < len(label) <= 63 for label in encoded.split(b"."))


def _resolve_dots(path: str) -> str:
    if "." not in path:
        return path
    resolved = posixpath.normpath(path)
    if resolved.startswith("//"):
        resolved = "/" + resolved.lstrip("/")
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    return resolved


def host_of(url: str) -> str:
    """``host[:port]`` of a canonical URL (what "same host" compares)."""
    return urlsplit(url).netloc


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def document_id_for_url(url: str) -> str:
    """A stable, readable document id for a page: ``help.example.com:docs:returns``.

    Host and path segments joined by ``:``, characters an id cannot hold replaced by ``-``.
    When that loses information (a query string, replaced characters) or the id would be
    too long, a short hash of the whole URL is appended, so two pages never share an id.
    """
    canonical = canonicalize(url)
    if canonical is None:
        raise InvalidDocumentError(f"not a web address: {url!r}")
    parts = urlsplit(canonical)
    host = parts.netloc.replace(":", "_").strip("[]")
    segments = [s for s in parts.path.split("/") if s]
    slugs = [_NOT_IN_ID.sub("-", s).strip("-") or "-" for s in segments]
    lossy = bool(parts.query) or any(a != b for a, b in zip(segments, slugs, strict=True))
    ident = ":".join([host, *slugs])
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
    if lossy or len(ident) > 200:
        ident = f"{ident[:189]}~{digest}"
    if not DOCUMENT_ID.match(ident):
        ident = f"page~{digest}"
    return ident


def title_from_url(url: str) -> str:
    """A fallback title: the last path segment in words, or the host."""
    parts = urlsplit(url)
    last = unquote(next((s for s in reversed(parts.path.split("/")) if s), ""))
    words = re.sub(r"\.(html?|php|aspx?|pdf)$", "", last, flags=re.I)
    words = re.sub(r"[-_+\s]+", " ", words).strip()
    return (words.capitalize() if words else parts.hostname or url)[:300]


def is_public_address(address: str) -> bool:
    """Whether an IP address is on the public internet (not loopback, private, link-local,
    multicast or reserved): a crawl started from the dashboard must not reach the
    platform's own internal services."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def charset_of(content_type: str | None) -> str | None:
    found = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_.:-]+)", content_type or "", re.I)
    return found.group(1) if found else None


# -- robots.txt ---------------------------------------------------------------------------


class RobotsRules:
    """What a site's ``robots.txt`` lets TandemBot fetch (RFC 9309 as the standard
    library reads it): a missing file (4xx) allows everything, an unreachable one (5xx,
    network error) nothing."""

    def __init__(self, parser: RobotFileParser | None, *, allow_all: bool = False) -> None:
        self._parser = parser
        self._allow_all = allow_all

    @classmethod
    def from_text(cls, text: str) -> RobotsRules:
        parser = RobotFileParser()
        parser.parse(text.splitlines())
        return cls(parser)

    @classmethod
    def allowing_everything(cls) -> RobotsRules:
        return cls(None, allow_all=True)

    @classmethod
    def forbidding_everything(cls) -> RobotsRules:
        return cls(None, allow_all=False)

    def allows(self, url: str) -> bool:
        if self._parser is None:
            return self._allow_all
        return self._parser.can_fetch(USER_AGENT, url)

    def crawl_delay(self) -> float | None:
        if self._parser is None:
            return None
        delay = self._parser.crawl_delay(USER_AGENT)
        return float(delay) if delay is not None else None


# -- limits -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CrawlLimits:
    max_pages: int = 200
    max_page_bytes: int = 5 * 1024 * 1024
    max_total_bytes: int = 200 * 1024 * 1024
    #: Seconds between two requests' starts (raised by the site's ``Crawl-delay``).
    delay_seconds: float = 0.5
    #: Requests in flight at once.
    concurrency: int = 2
    #: The longest ``Crawl-delay`` obeyed; a site asking for more is crawled this slowly.
    max_delay_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_pages <= 100_000:
            raise InvalidDocumentError("max_pages must be 1..100000")
        if self.max_page_bytes < 1024 or self.max_total_bytes < self.max_page_bytes:
            raise InvalidDocumentError("byte limits must be at least 1 KiB, total >= per page")
        if not 0 <= self.delay_seconds <= self.max_delay_seconds:
            raise InvalidDocumentError("delay_seconds must be 0..max_delay_seconds")
        if not 1 <= self.concurrency <= 16:
            raise InvalidDocumentError("concurrency must be 1..16")

    def polite_delay(self, robots: RobotsRules) -> float:
        asked = robots.crawl_delay()
        if asked is None:
            return self.delay_seconds
        return min(self.max_delay_seconds, max(self.delay_seconds, asked))


# -- sitemaps -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sitemap:
    pages: tuple[str, ...] = ()
    #: A sitemap index lists further sitemaps instead of (or besides) pages.
    sitemaps: tuple[str, ...] = ()


def parse_sitemap(data: bytes) -> Sitemap:
    """``<urlset>`` page locations and ``<sitemapindex>`` sitemap locations.

    A document type declaration is refused outright: sitemaps have no use for one, and it
    is how XML entity-expansion attacks come in.
    """
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise InvalidDocumentError("the sitemap declares a DTD or entities; refused")
    try:
        root = ET.fromstring(data)  # noqa: S314 - no DTD (checked above), bounded size
    except ET.ParseError as exc:
        raise InvalidDocumentError(f"the sitemap is not well-formed XML ({exc})") from None
    pages: list[str] = []
    sitemaps: list[str] = []
    kind = root.tag.rsplit("}", 1)[-1]
    for entry in root:
        for child in entry:
            if child.tag.rsplit("}", 1)[-1] == "loc" and child.text and child.text.strip():
                (sitemaps if kind == "sitemapindex" else pages).append(child.text.strip())
    if kind not in ("urlset", "sitemapindex"):
        raise InvalidDocumentError(f"not a sitemap (its root element is <{kind}>)")
    return Sitemap(tuple(pages), tuple(sitemaps))


# -- the frontier -------------------------------------------------------------------------

Offer = Literal["queued", "ignored", "seen", "disallowed", "over_limit"]


@dataclass
class Frontier:
    """The memory of every URL already decided: which to fetch (``queued``, in the order
    offered), which robots.txt forbids, which are over the page limit."""

    host: str
    robots: RobotsRules
    limits: CrawlLimits
    queued: int = 0
    over_limit: int = 0
    _seen: set[str] = field(default_factory=set)

    def offer(self, url: str, base: str | None = None) -> tuple[Offer, str | None]:
        """Decide about one URL found (a link, a sitemap entry); returns the decision and
        the canonical URL (None when it is not a web address)."""
        canonical = canonicalize(url, base)
        if canonical is None or host_of(canonical) != self.host:
            return "ignored", canonical
        if _NOT_A_PAGE.search(urlsplit(canonical).path):
            return "ignored", canonical
        if canonical in self._seen:
            return "seen", canonical
        if self.queued >= self.limits.max_pages:
            self._seen.add(canonical)
            self.over_limit += 1
            return "over_limit", canonical
        self._seen.add(canonical)
        if not self.robots.allows(canonical):
            return "disallowed", canonical
        self.queued += 1
        return "queued", canonical

    def claim(self, url: str) -> bool:
        """Note a URL a fetch arrived at (a redirect, a canonical link); False when it was
        already seen, i.e. the page is a duplicate."""
        if url in self._seen:
            return False
        self._seen.add(url)
        return True
