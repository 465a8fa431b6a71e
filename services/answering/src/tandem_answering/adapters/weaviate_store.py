"""Knowledge chunks in Weaviate: one collection, one tenant per site.

Collection ``KnowledgeChunk`` has multi-tenancy on and one tenant per site id, so a site's
queries physically cannot reach another site's chunks (each tenant is its own shard). We
bring our own vectors (no vectorizer), two named vectors per chunk:

* ``body``: the chunk text under its heading path (what the section *says*);
* ``title``: the document title and the chunk's heading (what the section is *called*).

Retrieval (``search``) for an English question is one hybrid query in the site's tenant:
BM25 over title, headings and text, fused (weight ``alpha``) with a vector search over both
named vectors that takes each chunk's nearer one (Weaviate's ``minimum`` join of target
vectors). Its 2 x ``limit`` best chunks are what the reranking step scores, with exact
cosines on both vectors; a chunk's relevance is the max of the two (``domain.answer``).
This was a hybrid query on ``body`` and a second, pure vector query on ``title``, merged:
recall@1 and @5 are the same on every evaluation set, for one search less per question. The queries return ids and scores
only: a chunk's properties and vectors come from a per-process cache keyed by chunk id,
which derives from the content and the model versions, so a cached chunk is never stale;
only chunks not seen before are fetched, once. Loading and parsing the stored objects'
properties for every result was over a third of Weaviate's CPU per search, and returning
their vectors a fifth. On
StackFAQ (in-scope questions, recall@1 of the top document):

* union + max-cosine rerank: 0.951 (the right document is among the candidates for 0.999);
* the hybrid query's own order: 0.754 at alpha 0.5 (0.64-0.77 over alpha 0..1);
* reciprocal-rank fusion of the two queries: 0.830;
* dense MiniLM on the body alone: 0.724; on the title alone: 0.945.

So fusion is by max cosine, not RRF: rank fusion lets the weaker view outvote the
stronger one, while the max keeps whichever view matches. Adding a lexical bonus to the
max did not help (+0.004 on StackFAQ, -0.01 on support-shop). BM25 still earns its place
in candidate generation (exact product names, error codes) and as the ``keyword_hit``
confidence feature: a chunk is a keyword hit when the hybrid query's BM25 half found it,
read from Weaviate's score explanation.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import weaviate
from numpy.typing import NDArray
from weaviate.classes.config import Configure, DataType, Property, Tokenization
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery, TargetVectors
from weaviate.classes.tenants import Tenant
from weaviate.collections import CollectionAsync
from weaviate.exceptions import UnexpectedStatusCodeError, WeaviateBaseError

log = logging.getLogger(__name__)

COLLECTION = "KnowledgeChunk"
BODY_VECTOR = "body"
TITLE_VECTOR = "title"
MULTILINGUAL_VECTOR = "multilingual"
#: Which named vectors a route scores chunks on: (body, title). The multilingual model has
#: one vector for both.
ROUTE_VECTORS = {
    "english": (BODY_VECTOR, TITLE_VECTOR),
    "multilingual": (MULTILINGUAL_VECTOR, MULTILINGUAL_VECTOR),
}
# BM25 reads the title and headings as well as the text; a title word counts double.
KEYWORD_PROPERTIES = ["title^2", "heading_path", "text"]
_RETURN_PROPERTIES = ["document_id", "chunk_id", "title", "url", "heading_path", "text", "language"]
# Weaviate explains a hybrid result's score per sub-search; the keyword half is named so.
_KEYWORD_EXPLANATION = re.compile(r"\(Result Set keyword[^)]*\)", re.IGNORECASE)


class KnowledgeStoreUnavailable(RuntimeError):
    """Weaviate did not answer a search (down, timed out, or refused)."""


#: How long "this site has no knowledge base" is believed before asking Weaviate again.
MISSING_TENANT_TTL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class ChunkObject:
    """One chunk as stored: properties plus both vectors."""

    uuid: uuid.UUID
    document_id: str
    title: str
    url: str | None
    heading_path: tuple[str, ...]
    text: str
    language: str
    body_vector: Sequence[float]
    title_vector: Sequence[float]
    multilingual_vector: Sequence[float]


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    chunk_id: str
    document_id: str
    title: str
    url: str | None
    heading_path: tuple[str, ...]
    text: str
    # The route's views of the chunk; on the multilingual route both are its one vector.
    body_vector: NDArray[np.float32]
    title_vector: NDArray[np.float32]
    keyword_hit: bool
    language: str = ""  # of the document, detected at ingestion


@dataclass(slots=True)
class StoredChunk:
    """A chunk as fetched once and then cached: its stored properties, and the named
    vectors asked for so far (an empty array where the chunk has none: it was indexed before
    that vector existed, and since its id names the model versions, it never will have)."""

    properties: Mapping[str, Any]
    vectors: dict[str, NDArray[np.float32]]


class WeaviateKnowledgeStore:
    def __init__(
        self,
        client: weaviate.WeaviateAsyncClient,
        *,
        search_timeout: float = 5.0,
        chunk_cache_size: int = 10_000,
    ) -> None:
        self.client = client
        self.search_timeout = search_timeout
        self._known_tenants: set[str] = set()
        self._missing_until: dict[str, float] = {}
        self._schema_ready = False
        # site id -> its tenant's collection handle (building one per search was a tenth of
        # the event loop's time per answer); the handle holds only names, never stale.
        self._tenant_handles: dict[str, CollectionAsync[Any, Any]] = {}
        # chunk id -> its properties and vectors; up to ~6 KB a chunk, least recently used out.
        self._chunks: OrderedDict[str, StoredChunk] = OrderedDict()
        self.chunk_cache_size = chunk_cache_size

    @classmethod
    async def connect(
        cls,
        url: str,
        grpc_port: int,
        *,
        api_key: str | None = None,
        init_timeout: float = 30.0,
        search_timeout: float = 5.0,
    ) -> WeaviateKnowledgeStore:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"invalid Weaviate URL {url!r}")
        secure = parts.scheme == "https"
        client = weaviate.use_async_with_custom(
            http_host=parts.hostname,
            http_port=parts.port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=parts.hostname,
            grpc_port=grpc_port,
            grpc_secure=secure,
            auth_credentials=weaviate.classes.init.Auth.api_key(api_key) if api_key else None,
            additional_config=weaviate.classes.init.AdditionalConfig(
                timeout=weaviate.classes.init.Timeout(init=init_timeout, query=30, insert=120)
            ),
        )
        await client.connect()
        store = cls(client, search_timeout=search_timeout)
        await store.ensure_schema()
        return store

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> None:
        if not await self.client.is_ready():
            raise RuntimeError("Weaviate is not ready")

    async def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        if not await self.client.collections.exists(COLLECTION):
            try:
                await self.client.collections.create(
                    COLLECTION,
                    description="Knowledge-base chunks; one tenant per Tandem site.",
                    multi_tenancy_config=Configure.multi_tenancy(
                        enabled=True, auto_tenant_creation=False, auto_tenant_activation=True
                    ),
                    vector_config=[_vector_config(name) for name in ALL_VECTORS],
                    properties=[
                        Property(
                            name="document_id",
                            data_type=DataType.TEXT,
                            tokenization=Tokenization.FIELD,
                            index_searchable=False,
                        ),
                        Property(
                            name="chunk_id",
                            data_type=DataType.TEXT,
                            tokenization=Tokenization.FIELD,
                            index_searchable=False,
                        ),
                        Property(
                            name="site_id",
                            data_type=DataType.TEXT,
                            tokenization=Tokenization.FIELD,
                            index_searchable=False,
                        ),
                        Property(name="title", data_type=DataType.TEXT),
                        Property(
                            name="url",
                            data_type=DataType.TEXT,
                            tokenization=Tokenization.FIELD,
                            index_searchable=False,
                        ),
                        Property(name="heading_path", data_type=DataType.TEXT_ARRAY),
                        Property(name="text", data_type=DataType.TEXT),
                        Property(
                            name="language",
                            data_type=DataType.TEXT,
                            tokenization=Tokenization.FIELD,
                            index_searchable=False,
                        ),
                    ],
                )
            except UnexpectedStatusCodeError:
                # Another replica created it first.
                if not await self.client.collections.exists(COLLECTION):
                    raise
        await self._add_missing_vectors()
        self._schema_ready = True

    async def _add_missing_vectors(self) -> None:
        """A collection created by an older version lacks newer named vectors: add them.

        Existing chunks have no value for them until re-indexed, which happens by itself:
        the model versions are part of each document's content hash, so the next ingest of
        an unchanged document indexes it again.
        """
        config = await self._collection().config.get()
        present = set((config.vector_config or {}).keys())
        for name in ALL_VECTORS:
            if name not in present:
                try:
                    await self._collection().config.add_vector(vector_config=_vector_config(name))
                    log.info(
                        "added named vector to the collection", extra={"fields": {"vector": name}}
                    )
                except UnexpectedStatusCodeError:
                    # Another replica added it first.
                    config = await self._collection().config.get()
                    if name not in (config.vector_config or {}):
                        raise

    def _collection(self) -> CollectionAsync[Any, Any]:
        return self.client.collections.use(COLLECTION)

    async def tenant_exists(self, site_id: str, *, cached: bool = True) -> bool:
        if site_id in self._known_tenants:
            return True
        if cached and self._missing_until.get(site_id, 0.0) > time.monotonic():
            return False
        exists = bool(await self._collection().tenants.exists(site_id))
        if exists:
            self._known_tenants.add(site_id)
            self._missing_until.pop(site_id, None)
        else:
            if len(self._missing_until) > 10_000:
                self._missing_until.clear()
            self._missing_until[site_id] = time.monotonic() + MISSING_TENANT_TTL_SECONDS
        return exists

    async def ensure_tenant(self, site_id: str) -> None:
        if await self.tenant_exists(site_id, cached=False):
            return
        try:
            await self._collection().tenants.create([Tenant(name=site_id)])
        except UnexpectedStatusCodeError:
            if not await self._collection().tenants.exists(site_id):
                raise
        self._known_tenants.add(site_id)
        self._missing_until.pop(site_id, None)

    async def replace_document(
        self, site_id: str, document_id: str, chunks: Sequence[ChunkObject]
    ) -> int:
        """Make the site's chunks of ``document_id`` exactly ``chunks``; returns how many old
        ones were removed.

        New objects are written first (deterministic ids: rewriting unchanged chunks is an
        upsert), then every other object of the document is deleted, so the document is never
        missing from search while it is re-indexed.
        """
        await self.ensure_tenant(site_id)
        collection = self._collection().with_tenant(site_id)
        if chunks:
            result = await collection.data.insert_many(
                [
                    DataObject(
                        uuid=chunk.uuid,
                        properties={
                            "document_id": chunk.document_id,
                            "chunk_id": str(chunk.uuid),
                            "site_id": site_id,
                            "title": chunk.title,
                            "url": chunk.url or "",
                            "heading_path": list(chunk.heading_path),
                            "text": chunk.text,
                            "language": chunk.language,
                        },
                        vector={
                            BODY_VECTOR: [float(v) for v in chunk.body_vector],
                            TITLE_VECTOR: [float(v) for v in chunk.title_vector],
                            MULTILINGUAL_VECTOR: [float(v) for v in chunk.multilingual_vector],
                        },
                    )
                    for chunk in chunks
                ]
            )
            if result.has_errors:
                first = next(iter(result.errors.values()))
                raise RuntimeError(
                    f"Weaviate rejected {len(result.errors)} chunk(s): {first.message}"
                )
        stale = Filter.by_property("document_id").equal(document_id)
        if chunks:
            stale = stale & Filter.by_id().contains_none([chunk.uuid for chunk in chunks])
        deleted = await collection.data.delete_many(where=stale)
        if deleted.failed:
            raise RuntimeError(f"Weaviate failed to delete {deleted.failed} stale chunk(s)")
        return int(deleted.successful)

    async def delete_document(self, site_id: str, document_id: str) -> int:
        if not await self.tenant_exists(site_id, cached=False):
            return 0
        collection = self._collection().with_tenant(site_id)
        deleted = await collection.data.delete_many(
            where=Filter.by_property("document_id").equal(document_id)
        )
        if deleted.failed:
            raise RuntimeError(f"Weaviate failed to delete {deleted.failed} chunk(s)")
        return int(deleted.successful)

    async def delete_site(self, site_id: str) -> None:
        """Drop the site's tenant and everything in it."""
        if await self.tenant_exists(site_id, cached=False):
            await self._collection().tenants.remove([site_id])
        self._known_tenants.discard(site_id)

    async def count_chunks(self, site_id: str, document_id: str | None = None) -> int:
        if not await self.tenant_exists(site_id, cached=False):
            return 0
        collection = self._collection().with_tenant(site_id)
        where = Filter.by_property("document_id").equal(document_id) if document_id else None
        result = await collection.aggregate.over_all(filters=where, total_count=True)
        return int(result.total_count or 0)

    async def search(
        self,
        site_id: str,
        question: str,
        vector: Sequence[float] | NDArray[np.float32],
        *,
        limit: int = 8,
        alpha: float = 0.5,
        route: str = "english",
    ) -> list[RetrievedChunk]:
        """The site's best chunks for ``question`` (see the module docstring for how);
        ``vector`` is the question's vector by the ``route``'s model.

        Raises ``KnowledgeStoreUnavailable`` when Weaviate fails or takes longer than
        ``search_timeout`` seconds.
        """
        if route not in ROUTE_VECTORS:
            raise ValueError(f"unknown retrieval route {route!r}")
        try:
            # A timeout scope, not wait_for: no extra task per search.
            async with asyncio.timeout(self.search_timeout):
                return await self._search(
                    site_id, question, vector, limit=limit, alpha=alpha, route=route
                )
        except (WeaviateBaseError, TimeoutError, OSError) as exc:
            raise KnowledgeStoreUnavailable(f"knowledge search failed: {exc!r}"[:500]) from exc

    async def _search(
        self,
        site_id: str,
        question: str,
        vector: Sequence[float] | NDArray[np.float32],
        *,
        limit: int,
        alpha: float,
        route: str,
    ) -> list[RetrievedChunk]:
        if not await self.tenant_exists(site_id):
            return []
        collection = self._tenant_handles.get(site_id)
        if collection is None:
            if len(self._tenant_handles) >= 10_000:
                self._tenant_handles.clear()
            # The client's check of each call's arguments against their type hints took two
            # fifths of its time per search; this code builds every argument itself.
            collection = self._tenant_handles[site_id] = self.client.collections.use(
                COLLECTION, skip_argument_validation=True
            ).with_tenant(site_id)
        # A list of floats: the client's handling of an array costs four times as much.
        query_vector = np.asarray(vector, dtype=np.float32).tolist()
        main_vector, second_vector = ROUTE_VECTORS[route]
        needed = list(dict.fromkeys(v for v in (main_vector, second_vector) if v))
        queries = [
            collection.query.hybrid(
                query=question,
                vector=query_vector,
                target_vector=TargetVectors.minimum(needed) if len(needed) > 1 else main_vector,
                alpha=alpha,
                query_properties=KEYWORD_PROPERTIES,
                fusion_type=HybridFusion.RELATIVE_SCORE,
                limit=limit * len(needed),
                return_properties=[],
                return_metadata=MetadataQuery(score=True, explain_score=True),
            )
        ]
        if len(needed) == 1:
            # Across languages the keyword half is mostly noise and can push the nearest
            # passages out of the hybrid query's list: a pure vector query keeps them in.
            queries.append(
                collection.query.near_vector(
                    near_vector=query_vector,
                    target_vector=main_vector,
                    limit=limit,
                    return_properties=[],
                )
            )
        try:
            hybrid, *others = await asyncio.gather(*queries)
        except WeaviateBaseError as exc:
            if "tenant" in str(exc).lower() and not await self.tenant_exists(site_id, cached=False):
                # The tenant was removed since we cached it: the site has no knowledge base.
                self._known_tenants.discard(site_id)
                return []
            raise
        # Chunk id -> whether the hybrid query's keyword half found it, best first.
        found: dict[str, bool] = {}
        for obj in hybrid.objects:
            explanation = obj.metadata.explain_score or ""
            found[str(obj.uuid)] = bool(_KEYWORD_EXPLANATION.search(explanation))
        for result in others:
            for obj in result.objects:
                found.setdefault(str(obj.uuid), False)
        stored = await self._stored_chunks(collection, list(found), needed)
        chunks = [
            _retrieved(chunk_id, stored[chunk_id], route, keyword_hit=hit)
            for chunk_id, hit in found.items()
            # Gone since the query (deleted or replaced): nothing left to answer from.
            if chunk_id in stored
        ]
        # A chunk indexed before its route's vector existed cannot be scored on it.
        return [chunk for chunk in chunks if chunk.body_vector.size]

    async def _stored_chunks(
        self, collection: Any, chunk_ids: list[str], names: list[str]
    ) -> dict[str, StoredChunk]:
        """Each chunk with (at least) its ``names`` vectors: cached, else fetched in one
        query and then cached."""
        out: dict[str, StoredChunk] = {}
        missing: list[str] = []
        for chunk_id in chunk_ids:
            cached = self._chunks.get(chunk_id)
            if cached is not None and all(name in cached.vectors for name in names):
                self._chunks.move_to_end(chunk_id)
                out[chunk_id] = cached
            else:
                missing.append(chunk_id)
        if not missing:
            return out
        fetched = await collection.query.fetch_objects(
            filters=Filter.by_id().contains_any(missing),
            limit=len(missing),
            include_vector=names,
            return_properties=_RETURN_PROPERTIES,
        )
        empty = np.zeros(0, dtype=np.float32)
        for obj in fetched.objects:
            chunk_id = str(obj.uuid)
            entry = self._chunks.get(chunk_id) or StoredChunk(dict(obj.properties), {})
            vectors = obj.vector or {}
            for name in names:
                values = vectors.get(name)
                entry.vectors[name] = np.asarray(values, dtype=np.float32) if values else empty
            self._chunks[chunk_id] = entry
            self._chunks.move_to_end(chunk_id)
            out[chunk_id] = entry
        while len(self._chunks) > self.chunk_cache_size:
            self._chunks.popitem(last=False)
        return out


ALL_VECTORS = (BODY_VECTOR, TITLE_VECTOR, MULTILINGUAL_VECTOR)


def _vector_config(name: str) -> Any:
    return Configure.Vectors.self_provided(
        name=name,
        vector_index_config=Configure.VectorIndex.hnsw(
            distance_metric=weaviate.classes.config.VectorDistances.COSINE
        ),
    )


def _retrieved(
    chunk_id: str, stored: StoredChunk, route: str, *, keyword_hit: bool
) -> RetrievedChunk:
    props = stored.properties
    main_vector, second_vector = ROUTE_VECTORS[route]
    empty = np.zeros(0, dtype=np.float32)
    body = stored.vectors.get(main_vector, empty)
    return RetrievedChunk(
        chunk_id=chunk_id,
        document_id=str(props["document_id"]),
        title=str(props.get("title") or ""),
        url=props.get("url") or None,
        heading_path=tuple(props.get("heading_path") or ()),
        text=str(props.get("text") or ""),
        body_vector=body,
        title_vector=stored.vectors.get(second_vector, empty) if second_vector else body,
        keyword_hit=keyword_hit,
        language=str(props.get("language") or ""),
    )
