"""Command line: ingest files or a JSONL knowledge base, crawl a site, fit the calibration.

These call the same use cases as the HTTP API (not the API itself), so they need Postgres
and Weaviate but not the running service. ``KnowledgeDocumentIndexed`` events go to the
outbox as usual; the service's relay publishes them when it runs. Ingesting several files
and crawling are jobs whose progress is published the same way (KnowledgeIngestionProgressed)
and drawn as a progress bar on a terminal (``ingest_commands.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ..adapters.job_repository import JobRepository
from ..bootstrap import Runtime, open_runtime
from ..domain.chunking import PARSERS
from ..domain.documents import (
    InvalidDocumentError,
    SourceDocument,
    document_id_from_name,
    validate_site_id,
)
from ..domain.formats import FORMAT_BY_SUFFIX, load_bytes
from ..service_layer.jobs import JobProgress
from ..settings import AnsweringSettings
from .evaluation import calibrate, evaluate
from .ingest_commands import ProgressBar, crawl_site

CONCURRENT_DOCUMENTS = 4
CONCURRENT_QUESTIONS = 64


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tandem_answering")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    commands.add_parser("asyncapi", help="print the AsyncAPI document")

    ingest = commands.add_parser(
        "ingest", help="index Markdown, text, HTML and PDF files or folders for a site"
    )
    ingest.add_argument("--site", required=True, help="site id (the knowledge base's tenant)")
    ingest.add_argument("--base-url", help="URL the files are published under, for sources")
    ingest.add_argument("--force", action="store_true", help="re-index even unchanged documents")
    ingest.add_argument(
        "--prune", action="store_true", help="delete the site's documents not given"
    )
    ingest.add_argument("paths", nargs="+", type=Path)

    jsonl = commands.add_parser("ingest-jsonl", help='index {"id","title","text","url"} lines')
    jsonl.add_argument("--site", required=True)
    jsonl.add_argument("--format", choices=sorted(PARSERS), default="text")
    jsonl.add_argument("--force", action="store_true")
    jsonl.add_argument("file", type=Path)

    crawl = commands.add_parser("crawl", help="crawl a site (same host, robots.txt obeyed)")
    crawl.add_argument("--site", required=True, help="site id (the knowledge base's tenant)")
    crawl.add_argument("--sitemap", action="store_true", help="URL is a sitemap: crawl its pages")
    crawl.add_argument("--max-pages", type=int, default=None, help="pages at most")
    crawl.add_argument(
        "--allow-private-networks",
        action="store_true",
        help="allow hosts on loopback/private addresses (an intranet, a local test server)",
    )
    crawl.add_argument("url", help="the start page, or the sitemap with --sitemap")

    calibrate = commands.add_parser(
        "calibrate", help="fit the confidence calibration of both routes on evaluation sets"
    )
    calibrate.add_argument("data", type=Path, help="a set folder, or a folder of sets")
    calibrate.add_argument("--output", type=Path, default=None, help="artifact folder")
    calibrate.add_argument("--l2", type=float, default=1.0)
    calibrate.add_argument(
        "--samples", type=Path, default=None, help="also save the scored samples (.npz)"
    )

    evaluate = commands.add_parser(
        "eval", help="run the real pipeline on evaluation sets; the last stdout line is JSON"
    )
    evaluate.add_argument("data", type=Path, help="a set folder, or a folder of sets")
    evaluate.add_argument(
        "--output",
        type=Path,
        default=Path("test-artifacts/eval"),
        help="where the reliability diagrams go",
    )
    evaluate.add_argument("--keep-site", action="store_true", help="keep the temporary site")
    return parser


def run_cli(args: argparse.Namespace, settings: AnsweringSettings) -> int:
    if args.command == "ingest":
        return asyncio.run(
            ingest_files(settings, args.site, args.paths, args.base_url, args.force, args.prune)
        )
    if args.command == "crawl":
        return asyncio.run(
            crawl_site(
                settings,
                args.site,
                args.url,
                sitemap=args.sitemap,
                max_pages=args.max_pages,
                allow_private_networks=args.allow_private_networks,
            )
        )
    if args.command == "ingest-jsonl":
        return asyncio.run(ingest_jsonl(settings, args.site, args.file, args.format, args.force))
    if args.command == "calibrate":
        return asyncio.run(calibrate(settings, args.data, args.output, args.l2, args.samples))
    if args.command == "eval":
        return asyncio.run(evaluate(settings, args.data, args.output, keep_site=args.keep_site))
    raise ValueError(f"unknown command {args.command!r}")


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


# ---------------------------------------------------------------- ingest


@dataclass(frozen=True)
class FileDocument:
    path: Path
    relative: str  # posix path under the folder it was found in


def discover(paths: list[Path]) -> Iterator[FileDocument]:
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.is_file() and found.suffix.lower() in FORMAT_BY_SUFFIX:
                    yield FileDocument(found, found.relative_to(path).as_posix())
        elif path.is_file():
            if path.suffix.lower() not in FORMAT_BY_SUFFIX:
                raise InvalidDocumentError(
                    f"{path}: only {sorted(FORMAT_BY_SUFFIX)} files can be ingested"
                )
            yield FileDocument(path, path.name)
        else:
            raise InvalidDocumentError(f"{path}: no such file or folder")


def document_id_for(relative: str) -> str:
    """``guide/Install Tandem.md`` -> ``guide:Install-Tandem`` (ids cannot hold '/')."""
    return document_id_from_name(relative)


def title_for(file: FileDocument, title: str | None) -> str:
    """The title the file gives itself (front matter, first H1, <title>, PDF metadata), else
    its name in words."""
    if title:
        return title[:300]
    stem = Path(file.relative).stem
    return re.sub(r"[-_]+", " ", stem).strip().capitalize() or stem


async def ingest_files(
    settings: AnsweringSettings,
    site_id: str,
    paths: list[Path],
    base_url: str | None,
    force: bool,
    prune: bool,
) -> int:
    validate_site_id(site_id)
    files = list(discover(paths))
    if not files:
        print(f"nothing to ingest: no {', '.join(FORMAT_BY_SUFFIX)} files found", file=sys.stderr)
        return 1
    documents = []
    unreadable = 0
    for file in files:
        fmt = FORMAT_BY_SUFFIX[file.path.suffix.lower()]
        try:
            # PDFs become their extracted text here; a scan without text is reported, and
            # the other files are still indexed.
            loaded = load_bytes(file.path.read_bytes(), fmt)
        except InvalidDocumentError as exc:
            unreadable += 1
            print(f"{'failed':<10} {file.relative}  {exc}", flush=True)
            continue
        documents.append(
            SourceDocument(
                site_id=site_id,
                document_id=document_id_for(file.relative),
                title=title_for(file, loaded.title),
                url=f"{base_url.rstrip('/')}/{file.relative}" if base_url else None,
                text=loaded.text,
                format=loaded.format,  # type: ignore[arg-type]
            )
        )
    async with open_runtime(settings, require_calibration=False) as runtime:
        failures = unreadable + await _ingest_all(runtime, documents, force)
        if prune:
            keep = {d.document_id for d in documents}
            existing, _ = await runtime.ingestion.list_documents(site_id, limit=100_000)
            for record in existing:
                if record.document_id not in keep:
                    await runtime.ingestion.delete(site_id, record.document_id)
                    print(f"deleted    {record.document_id}")
    return 1 if failures else 0


async def ingest_jsonl(
    settings: AnsweringSettings, site_id: str, file: Path, fmt: str, force: bool
) -> int:
    validate_site_id(site_id)
    documents = list(read_jsonl_documents(file, site_id, fmt))
    async with open_runtime(settings, require_calibration=False) as runtime:
        failures = await _ingest_all(runtime, documents, force)
    return 1 if failures else 0


def read_jsonl_documents(file: Path, site_id: str, fmt: str) -> Iterator[SourceDocument]:
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            yield SourceDocument(
                site_id=site_id,
                document_id=str(row["id"]),
                title=str(row["title"]),
                url=row.get("url"),
                text=str(row["text"]),
                format=fmt,  # type: ignore[arg-type]
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidDocumentError(
                f"{file}:{number}: not a {{id, title, text, url}} object ({exc!r})"
            ) from None
        except InvalidDocumentError as exc:
            raise InvalidDocumentError(f"{file}:{number}: {exc}") from None


async def _ingest_all(runtime: Runtime, documents: list[SourceDocument], force: bool) -> int:
    """Index the documents as one ``import`` job (when there are several): a progress bar
    on a terminal, and progress events for whoever watches the knowledge topic."""
    total = len(documents)
    done = 0
    failures = 0
    limit = asyncio.Semaphore(CONCURRENT_DOCUMENTS)
    bar = ProgressBar()
    progress: JobProgress | None = None
    if total > 1 and documents:
        schema = runtime.settings.postgres_schema
        async with runtime.pool.connection() as conn, conn.transaction():
            job = await JobRepository(schema).create(
                conn, site_id=documents[0].site_id, kind="import", request={"documents": total}
            )
        progress = JobProgress(
            pool=runtime.pool,
            schema=schema,
            job=replace(job, total=total),
            interval=runtime.settings.job_progress_interval_seconds,
            listener=bar.update,
        )

    async def one(document: SourceDocument) -> None:
        nonlocal done, failures
        async with limit:
            try:
                result = await runtime.ingestion.ingest(document, force=force)
                line = f"{result.status:<10} {document.document_id}  ({result.document.chunk_count} chunks)  {document.title!r}"
                if progress:
                    await progress.record(
                        document.document_id, result.status, document_id=document.document_id
                    )
            except InvalidDocumentError as exc:
                failures += 1
                line = f"{'failed':<10} {document.document_id}  {exc}"
                if progress:
                    await progress.record(document.document_id, "failed", reason=str(exc))
            done += 1
            bar.println(f"[{done}/{total}] {line}")

    try:
        await asyncio.gather(*(one(d) for d in documents))
    except BaseException as exc:
        if progress:
            await asyncio.shield(progress.finish("failed", error=f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        bar.close()
    if progress:
        await progress.finish("completed")
    return failures
