"""A search engine for argilla-server 2.8 that answers from the server's own SQL database (SQLite).

Elasticsearch and OpenSearch cannot be installed on these machines. argilla-server looks its engine
up by name (`SearchEngine.register`, chosen with ARGILLA_SEARCH_ENGINE=sql); the database already
holds every record, response and suggestion, so the write hooks do nothing and the reads query it.

Runs inside the argilla-server environment (loaded by argilla_launch.py), never in the engine's.
What it does not do: no relevance ranking (text search is a case-insensitive substring match on the
fields), vector search is exact cosine over every vector of the dataset in Python. It serves a
review team well up to some tens of thousands of records per dataset.
"""
import math
from collections import Counter
from typing import Iterable, List, Optional, Union
from uuid import UUID

from sqlalchemy import String, and_, cast, exists, func, literal, not_, or_, select

from argilla_server.database import AsyncSessionLocal
from argilla_server.enums import MetadataPropertyType, RecordStatus, ResponseStatusFilter, SimilarityOrder
from argilla_server.models import (Dataset, Field, MetadataProperty, Question, Record, Response, Suggestion,
                                   User, Vector, VectorSettings)
from argilla_server.search_engine import (AndFilter, Filter, FilterScope, FloatMetadataMetrics,
                                          IntegerMetadataMetrics, MetadataFilterScope, MetadataMetrics, Order,
                                          RangeFilter, RecordFilterScope, ResponseFilterScope, SearchEngine,
                                          SearchResponseItem, SearchResponses, SuggestionFilterScope, TermsFilter,
                                          TermsMetrics, TextQuery)


@SearchEngine.register(engine_name="sql")          # ARGILLA_SEARCH_ENGINE=sql (lower-case!)
class SQLSearchEngine(SearchEngine):
    @classmethod
    async def new_instance(cls) -> "SQLSearchEngine":   # called once per request -> keep cheap
        return cls()

    async def close(self): pass
    async def ping(self) -> bool: return True
    async def info(self) -> dict: return {"engine": "sql", "version": "0"}

    # ---- write hooks: DB is the source of truth, nothing to index ----
    async def create_index(self, dataset): pass
    async def delete_index(self, dataset): pass
    async def configure_metadata_property(self, dataset, metadata_property): pass
    async def configure_index_vectors(self, vector_settings): pass
    async def index_records(self, dataset, records): pass
    async def partial_record_update(self, record, **update): pass
    async def delete_records(self, dataset, records): pass
    async def update_record_response(self, response): pass
    async def delete_record_response(self, response): pass
    async def update_record_suggestion(self, suggestion): pass
    async def delete_record_suggestion(self, suggestion): pass

    # ---- progress ----
    async def get_dataset_progress(self, dataset: Dataset) -> dict:
        async with AsyncSessionLocal() as db:
            rows = (await db.execute(select(Record.status, func.count())
                                     .where(Record.dataset_id == dataset.id).group_by(Record.status))).all()
        counts = {str(getattr(s, "value", s)): n for s, n in rows}
        return {"total": sum(counts.values()), **counts}        # keys: total, pending, completed

    async def get_dataset_user_progress(self, dataset: Dataset, user: User) -> dict:
        async with AsyncSessionLocal() as db:
            rows = (await db.execute(select(Response.status, func.count()).join(Record)
                                     .where(Record.dataset_id == dataset.id, Response.user_id == user.id)
                                     .group_by(Response.status))).all()
        counts = {str(getattr(s, "value", s)): n for s, n in rows}
        return {"total": sum(counts.values()), **counts}        # keys: submitted, draft, discarded

    # ---- search ----
    async def search(self, dataset: Dataset, query: Optional[Union[TextQuery, str]] = None,
                     filter: Optional[Filter] = None, sort: Optional[List[Order]] = None,
                     offset: int = 0, limit: int = 100, user_id: Optional[UUID] = None) -> SearchResponses:
        # NB: /me/datasets/{id}/records/search (web UI) passes user_id=...; ES uses it as random-sort seed.
        async with AsyncSessionLocal() as db:
            conds = [Record.dataset_id == dataset.id]
            if query is not None:
                conds.append(await self._text_condition(db, dataset.id, query))
            if filter is not None:
                conds.append(self._filter_condition(filter, dataset.id))
            total = await db.scalar(select(func.count(Record.id)).where(*conds))
            stmt = select(Record.id).where(*conds)
            for order in sort or []:
                col = self._order_expr(order.scope, dataset.id)
                stmt = stmt.order_by(col.desc() if order.order == "desc" else col.asc())
            stmt = stmt.order_by(Record.inserted_at.asc(), Record.id.asc()).offset(offset).limit(limit)
            ids = (await db.scalars(stmt)).all()
        return SearchResponses(items=[SearchResponseItem(record_id=i, score=1.0) for i in ids], total=total or 0)

    async def similarity_search(self, dataset: Dataset, vector_settings: VectorSettings,
                                value: Optional[List[float]] = None, record: Optional[Record] = None,
                                query=None, filter: Optional[Filter] = None, max_results: int = 100,
                                order: SimilarityOrder = SimilarityOrder.most_similar,
                                threshold: Optional[float] = None) -> SearchResponses:
        if bool(value) == bool(record):
            raise ValueError("Must provide either vector value or record to compute the similarity search")
        value = value or record.vector_value_by_vector_settings(vector_settings)
        async with AsyncSessionLocal() as db:
            conds = [Vector.vector_settings_id == vector_settings.id]
            if record is not None:
                conds.append(Vector.record_id != record.id)
            if query is not None:
                conds.append(await self._text_condition(db, dataset.id, query))
            if filter is not None:
                conds.append(self._filter_condition(filter, dataset.id))
            rows = (await db.execute(select(Vector.record_id, Vector.value).join(Record).where(*conds))).all()
        def cos(a, b):
            na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
            return sum(x * y for x, y in zip(a, b)) / (na * nb) if na and nb else 0.0
        scored = sorted(((rid, cos(value, v)) for rid, v in rows), key=lambda t: t[1],
                        reverse=order == SimilarityOrder.most_similar)
        if threshold is not None:
            scored = [t for t in scored if t[1] >= threshold]
        items = [SearchResponseItem(record_id=r, score=s) for r, s in scored[:max_results]]
        return SearchResponses(items=items, total=len(items))

    async def compute_metrics_for(self, metadata_property: MetadataProperty) -> MetadataMetrics:
        async with AsyncSessionLocal() as db:
            metas = (await db.scalars(select(Record.metadata_)
                                      .where(Record.dataset_id == metadata_property.dataset_id))).all()
        vals = [m.get(metadata_property.name) for m in metas if m and m.get(metadata_property.name) is not None]
        if metadata_property.type == MetadataPropertyType.terms:
            flat = [x for v in vals for x in (v if isinstance(v, list) else [v])]
            return TermsMetrics(total=len(flat), values=[TermsMetrics.TermCount(term=str(t), count=c)
                                                         for t, c in Counter(map(str, flat)).most_common()])
        cls = IntegerMetadataMetrics if metadata_property.type == MetadataPropertyType.integer else FloatMetadataMetrics
        return cls(min=min(vals), max=max(vals)) if vals else cls()

    # ---- helpers ----
    async def _text_condition(self, db, dataset_id, query):
        q = query if isinstance(query, TextQuery) else TextQuery(q=query)
        names = [q.field] if q.field else (await db.scalars(select(Field.name).where(Field.dataset_id == dataset_id))).all()
        pat = f"%{q.q}%"
        return or_(*[func.json_extract(Record.fields, f'$."{n}"').ilike(pat) for n in names])

    def _filter_condition(self, f: Filter, dataset_id):
        if isinstance(f, AndFilter):
            return and_(*[self._filter_condition(x, dataset_id) for x in f.filters])
        s = f.scope
        if isinstance(s, ResponseFilterScope):
            return self._response_condition(f)
        if isinstance(s, SuggestionFilterScope):
            prop = s.property or "value"
            if prop in ("value", "score"):
                m = self._json_match(getattr(Suggestion, prop), "$", f)
            else:
                m = self._match(getattr(Suggestion, prop), f)
            return exists().where(Suggestion.record_id == Record.id, Suggestion.question_id == Question.id,
                                  Question.name == s.question, Question.dataset_id == dataset_id, m)
        if isinstance(s, MetadataFilterScope):
            return self._json_match(Record.metadata_, f'$."{s.metadata_property}"', f)
        return self._match(self._scope_column(s), f)

    def _response_condition(self, f):
        s: ResponseFilterScope = f.scope
        user_cond = [Response.user_id == s.user.id] if s.user else []
        if s.question:
            m = self._json_match(Response.values, f'$."{s.question}".value', f)
            return exists().where(Response.record_id == Record.id, *user_cond, m)
        values = [str(v) for v in f.values]
        parts = []
        if ResponseStatusFilter.pending in values:       # "pending" == no response (by this user)
            parts.append(not_(exists().where(Response.record_id == Record.id, *user_cond)))
            values = [v for v in values if v != ResponseStatusFilter.pending]
        if values:
            parts.append(exists().where(Response.record_id == Record.id, *user_cond, Response.status.in_(values)))
        return or_(*parts)

    @staticmethod
    def _scope_column(s):
        if isinstance(s, RecordFilterScope):
            return getattr(Record, s.property)               # id, external_id, status, inserted_at, updated_at
        if isinstance(s, MetadataFilterScope):
            return func.json_extract(Record.metadata_, f'$."{s.metadata_property}"')
        raise ValueError(f"unsupported scope {s}")

    def _order_expr(self, s: FilterScope, dataset_id):
        if isinstance(s, SuggestionFilterScope):
            return (select(func.json_extract(Suggestion.score if s.property == "score" else Suggestion.value, "$"))
                    .join(Question).where(Suggestion.record_id == Record.id, Question.name == s.question,
                                          Question.dataset_id == dataset_id).scalar_subquery())
        if isinstance(s, ResponseFilterScope):
            col = func.json_extract(Response.values, f'$."{s.question}".value') if s.question else Response.status
            q = select(func.max(col)).where(Response.record_id == Record.id)
            return (q.where(Response.user_id == s.user.id) if s.user else q).scalar_subquery()
        return self._scope_column(s)

    def _json_match(self, col, path, f):
        """SQLite JSON: terms -> any element (scalar or list item) in values; range -> json_extract compare."""
        if isinstance(f, TermsFilter):
            je = func.json_each(col, path).table_valued("value")
            return exists(select(literal(1)).select_from(je).where(je.c.value.in_(list(f.values))))
        return self._match(func.json_extract(col, path), f)

    @staticmethod
    def _match(col, f):
        if isinstance(f, TermsFilter):
            return col.in_(list(f.values))
        conds = ([col >= f.ge] if f.ge is not None else []) + ([col <= f.le] if f.le is not None else [])
        return and_(*conds) if conds else col.isnot(None)
