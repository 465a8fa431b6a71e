"""Settings of the answering service (env prefix ``TANDEM_ANSWERING_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from tandem_platform.settings import ServiceSettings

from .domain.answer import DEFAULT_FALLBACK
from .domain.curated import DEFAULT_MATCH_MARGIN, DEFAULT_MATCH_THRESHOLD


class AnsweringSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TANDEM_ANSWERING_", extra="ignore")

    http_port: int = 8002
    postgres_dsn: str = "postgresql://tandem:tandem@127.0.0.1:55432/tandem"
    # The service's own schema; only tests name another one.
    postgres_schema: str = Field(default="answering", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    weaviate_url: str = "http://127.0.0.1:58080"
    weaviate_grpc_port: int = 58051
    weaviate_api_key: str | None = None
    # A search slower than this answers with the fallback instead of keeping the visitor waiting.
    weaviate_search_timeout_seconds: float = Field(default=5.0, gt=0.0, le=60.0)
    group_id: str = "tandem-answering"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    # Consumers of the group in this process, each owning its own partitions and answering
    # up to consumer_batch_max_records of their records at once (see consumers.py).
    consumer_workers: int = Field(default=4, ge=1, le=32)
    consumer_batch_max_records: int = Field(default=64, ge=1, le=1000)
    # How long an idle consumer waits for records before it polls again: the most a message
    # arriving at an idle service can wait before it is read.
    consumer_poll_timeout_ms: int = Field(default=20, ge=1, le=1000)

    # Model: "cpu" by default; "cuda" on GPU nodes.
    device: str = "cpu"
    # Questions arriving together share one model call (see adapters/embedder.py).
    batch_max_size: int = Field(default=32, ge=1, le=512)
    batch_max_wait_ms: float = Field(default=10.0, ge=0.0, le=1000.0)

    # Retrieval.
    retrieval_limit: int = Field(default=8, ge=1, le=100)
    hybrid_alpha: float = Field(default=0.5, ge=0.0, le=1.0)

    # Answering.
    answer_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    answer_max_chars: int = Field(default=600, ge=80, le=4000)
    answer_max_sentences: int = Field(default=3, ge=1, le=10)
    fallback_text: str = Field(default=DEFAULT_FALLBACK, min_length=1, max_length=1000)
    # A calibration artifact version to pin; by default the newest one fitted for the model.
    calibration_version: str | None = None
    # The same for the multilingual route's calibration (questions not in English).
    multilingual_calibration_version: str | None = None

    # Ingestion chunking.
    chunk_max_chars: int = Field(default=900, ge=200, le=8000)
    chunk_overlap_chars: int = Field(default=150, ge=0, le=2000)

    # Curated answers (domain/curated.py says how the defaults were measured): the cosine a
    # visitor's question needs to a pinned phrasing, and its lead over the next entry.
    curated_match_threshold: float = Field(default=DEFAULT_MATCH_THRESHOLD, ge=0.5, le=1.0)
    curated_match_margin: float = Field(default=DEFAULT_MATCH_MARGIN, ge=0.0, le=0.5)
    # How long a replica trusts its copy of a site's answering settings and curated answers
    # (changes made through another replica show within this time).
    site_policy_cache_seconds: float = Field(default=5.0, ge=0.0, le=300.0)
    # Mend misspelt words of English questions towards the site's own words before they
    # are embedded (domain/spelling.py); a replica re-reads a site's words at most this often.
    spelling: bool = True
    spelling_refresh_seconds: float = Field(default=30.0, ge=0.0, le=3600.0)

    # Uploads (admin API): the largest file accepted, and how long the request waits for
    # the file to be indexed before answering 202 with the job to poll instead.
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    upload_wait_seconds: float = Field(default=20.0, ge=0.0, le=300.0)
    # Crawls (domain/crawling.py, adapters/crawler.py): pages per crawl by default and at
    # most, bytes per page and per crawl, seconds between requests (a site's Crawl-delay
    # raises it), requests in flight, seconds a request may take.
    crawl_max_pages: int = Field(default=200, ge=1, le=100_000)
    crawl_max_pages_cap: int = Field(default=5000, ge=1, le=100_000)
    crawl_max_page_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    crawl_max_total_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    crawl_delay_seconds: float = Field(default=0.5, ge=0.0, le=30.0)
    crawl_concurrency: int = Field(default=2, ge=1, le=16)
    crawl_timeout_seconds: float = Field(default=20.0, gt=0.0, le=120.0)
    # Crawling hosts that resolve to loopback or private addresses (local development and
    # tests only: in production it would let a crawl reach the internal services).
    crawl_allow_private_networks: bool = False
    # Progress events of a job: at most one per this many seconds (plus the final one).
    job_progress_interval_seconds: float = Field(default=1.0, ge=0.0, le=60.0)
    # A running job silent this long lost its process and is marked failed.
    job_stale_seconds: float = Field(default=600.0, ge=30.0)
