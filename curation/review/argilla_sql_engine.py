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
from typing import List, Optional, Union
from uuid import UUID

from sqlalchemy import and_, exists, func, literal, not_, or_, select

from argilla_server.database import AsyncSessionLocal
from argilla_server.enums import MetadataPropertyType, ResponseStatusFilter, SimilarityOrder
from argilla_server.models import (Dataset, Field, MetadataProperty, Question, Record, Response, Suggestion,
                                   User, Vector, VectorSettings)
from argilla_server.search_engine import (AndFilter, Filter, FilterScope, FloatMetadataMetrics,
                                          IntegerMetadataMetrics, MetadataFilterScope, MetadataMetrics, Order,
                                          RecordFilterScope, ResponseFilterScope, SearchEngine,
                                          SearchResponseItem, SearchResponses, SuggestionFilterScope, TermsFilter,
                                          TermsMetrics, TextQuery)


@SearchEngine.register(engine_name="sql")  # selected with ARGILLA_SEARCH_ENGINE=sql (lower case)
class SQLSearchEngine(SearchEngine):
    @classmethod
    async def new_instance(cls) -> "SQLSearchEngine":  # the server makes one per request: keep it cheap
        return cls()

    async def close(self): pass
    async def ping(self) -> bool: return True
    async def info(self) -> dict: return {"engine": "sql", "version": "1"}

    # Write hooks: the database is the index, there is nothing to keep in step.
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

    async def get_dataset_progress(self, dataset: Dataset) -> dict:
        """Records per status: total, pending, completed."""
        async with AsyncSessionLocal() as db:
            rows = (await db.execute(select(Record.status, func.count())
                                     .where(Record.dataset_id == dataset.id).group_by(Record.status))).all()
        return _counted(rows)

    async def get_dataset_user_progress(self, dataset: Dataset, user: User) -> dict:
        """The user's responses per status: submitted, draft, discarded."""
        async with AsyncSessionLocal() as db:
            rows = (await db.execute(select(Response.status, func.count()).join(Record)
                                     .where(Record.dataset_id == dataset.id, Response.user_id == user.id)
                                     .group_by(Response.status))).all()
        return _counted(rows)

    async def search(self, dataset: Dataset, query: Optional[Union[TextQuery, str]] = None,
                     filter: Optional[Filter] = None, sort: Optional[List[Order]] = None,
                     offset: int = 0, limit: int = 100, user_id: Optional[UUID] = None) -> SearchResponses:
        # The UI's /me/.../records/search passes user_id (Elasticsearch seeds a random order with it).
        async with AsyncSessionLocal() as db:
            conditions = [Record.dataset_id == dataset.id, *await self._conditions(db, dataset.id, query, filter)]
            total = await db.scalar(select(func.count(Record.id)).where(*conditions))
            statement = select(Record.id).where(*conditions)
            for order in sort or []:
                key = self._sort_key(order.scope, dataset.id)
                statement = statement.order_by(key.desc() if order.order == "desc" else key.asc())
            statement = statement.order_by(Record.inserted_at.asc(), Record.id.asc()).offset(offset).limit(limit)
            record_ids = (await db.scalars(statement)).all()
        return SearchResponses(items=[SearchResponseItem(record_id=record_id, score=1.0) for record_id in record_ids],
                               total=total or 0)

    async def similarity_search(self, dataset: Dataset, vector_settings: VectorSettings,
                                value: Optional[List[float]] = None, record: Optional[Record] = None,
                                query=None, filter: Optional[Filter] = None, max_results: int = 100,
                                order: SimilarityOrder = SimilarityOrder.most_similar,
                                threshold: Optional[float] = None) -> SearchResponses:
        if bool(value) == bool(record):
            raise ValueError("Must provide either vector value or record to compute the similarity search")
        value = value or record.vector_value_by_vector_settings(vector_settings)
        async with AsyncSessionLocal() as db:
            conditions = [Vector.vector_settings_id == vector_settings.id, *await self._conditions(db, dataset.id, query, filter)]
            if record is not None:
                conditions.append(Vector.record_id != record.id)
            rows = (await db.execute(select(Vector.record_id, Vector.value).join(Record).where(*conditions))).all()
        scored = sorted(((record_id, _cosine(value, vector)) for record_id, vector in rows), key=lambda pair: pair[1],
                        reverse=order == SimilarityOrder.most_similar)
        if threshold is not None:
            scored = [(record_id, score) for record_id, score in scored if score >= threshold]
        items = [SearchResponseItem(record_id=record_id, score=score) for record_id, score in scored[:max_results]]
        return SearchResponses(items=items, total=len(items))

    async def compute_metrics_for(self, metadata_property: MetadataProperty) -> MetadataMetrics:
        async with AsyncSessionLocal() as db:
            metadata = (await db.scalars(select(Record.metadata_)
                                         .where(Record.dataset_id == metadata_property.dataset_id))).all()
        name = metadata_property.name
        values = [entry[name] for entry in metadata if entry and entry.get(name) is not None]
        if metadata_property.type == MetadataPropertyType.terms:
            terms = [str(term) for value in values for term in (value if isinstance(value, list) else [value])]
            return TermsMetrics(total=len(terms), values=[TermsMetrics.TermCount(term=term, count=count)
                                                          for term, count in Counter(terms).most_common()])
        metrics = IntegerMetadataMetrics if metadata_property.type == MetadataPropertyType.integer else FloatMetadataMetrics
        return metrics(min=min(values), max=max(values)) if values else metrics()

    async def _conditions(self, db, dataset_id, query, filter) -> list:
        conditions = []
        if query is not None:
            conditions.append(await self._text_condition(db, dataset_id, query))
        if filter is not None:
            conditions.append(self._filter_condition(filter, dataset_id))
        return conditions

    async def _text_condition(self, db, dataset_id, query):
        """A case-insensitive substring of one field, or of any field. json_extract, not the raw JSON
        column: the column stores non-ASCII text escaped."""
        text = query if isinstance(query, TextQuery) else TextQuery(q=query)
        names = [text.field] if text.field else (await db.scalars(select(Field.name).where(Field.dataset_id == dataset_id))).all()
        return or_(*[func.json_extract(Record.fields, f'$."{name}"').ilike(f"%{text.q}%") for name in names])

    def _filter_condition(self, condition: Filter, dataset_id):
        if isinstance(condition, AndFilter):
            return and_(*[self._filter_condition(part, dataset_id) for part in condition.filters])
        scope = condition.scope
        if isinstance(scope, ResponseFilterScope):
            return self._response_condition(condition)
        if isinstance(scope, SuggestionFilterScope):
            attribute = scope.property or "value"
            matches = (self._json_match(getattr(Suggestion, attribute), "$", condition) if attribute in ("value", "score")
                       else self._match(getattr(Suggestion, attribute), condition))
            return exists().where(Suggestion.record_id == Record.id, Suggestion.question_id == Question.id,
                                  Question.name == scope.question, Question.dataset_id == dataset_id, matches)
        if isinstance(scope, MetadataFilterScope):
            return self._json_match(Record.metadata_, f'$."{scope.metadata_property}"', condition)
        return self._match(self._scope_column(scope), condition)

    def _response_condition(self, condition):
        scope: ResponseFilterScope = condition.scope
        by_user = [Response.user_id == scope.user.id] if scope.user else []
        if scope.question:
            matches = self._json_match(Response.values, f'$."{scope.question}".value', condition)
            return exists().where(Response.record_id == Record.id, *by_user, matches)
        statuses = [str(value) for value in condition.values]
        alternatives = []
        if ResponseStatusFilter.pending in statuses:  # pending: no response (from this user) yet
            alternatives.append(not_(exists().where(Response.record_id == Record.id, *by_user)))
            statuses = [status for status in statuses if status != ResponseStatusFilter.pending]
        if statuses:
            alternatives.append(exists().where(Response.record_id == Record.id, *by_user, Response.status.in_(statuses)))
        return or_(*alternatives)

    @staticmethod
    def _scope_column(scope):
        if isinstance(scope, RecordFilterScope):
            return getattr(Record, scope.property)  # id, external_id, status, inserted_at, updated_at
        if isinstance(scope, MetadataFilterScope):
            return func.json_extract(Record.metadata_, f'$."{scope.metadata_property}"')
        raise ValueError(f"unsupported scope {scope}")

    def _sort_key(self, scope: FilterScope, dataset_id):
        if isinstance(scope, SuggestionFilterScope):
            column = Suggestion.score if scope.property == "score" else Suggestion.value
            return (select(func.json_extract(column, "$")).join(Question)
                    .where(Suggestion.record_id == Record.id, Question.name == scope.question,
                           Question.dataset_id == dataset_id).scalar_subquery())
        if isinstance(scope, ResponseFilterScope):
            column = func.json_extract(Response.values, f'$."{scope.question}".value') if scope.question else Response.status
            highest = select(func.max(column)).where(Response.record_id == Record.id)
            return (highest.where(Response.user_id == scope.user.id) if scope.user else highest).scalar_subquery()
        return self._scope_column(scope)

    def _json_match(self, column, path, condition):
        """SQLite JSON: terms match any element (a scalar or an item of a list); ranges compare json_extract."""
        if isinstance(condition, TermsFilter):
            elements = func.json_each(column, path).table_valued("value")
            return exists(select(literal(1)).select_from(elements).where(elements.c.value.in_(list(condition.values))))
        return self._match(func.json_extract(column, path), condition)

    @staticmethod
    def _match(column, condition):
        if isinstance(condition, TermsFilter):
            return column.in_(list(condition.values))
        bounds = ([column >= condition.ge] if condition.ge is not None else []) + \
                 ([column <= condition.le] if condition.le is not None else [])
        return and_(*bounds) if bounds else column.isnot(None)


def _counted(rows) -> dict:
    counts = {str(getattr(status, "value", status)): count for status, count in rows}
    return {"total": sum(counts.values()), **counts}


def _cosine(left: List[float], right: List[float]) -> float:
    norms = math.sqrt(sum(x * x for x in left)) * math.sqrt(sum(x * x for x in right))
    return sum(x * y for x, y in zip(left, right)) / norms if norms else 0.0
