"""An annotator's way in from Python. With the argilla SDK 2.8 an annotator may open the dataset but not list
its records (`dataset.records` asks the owner's endpoint, /api/v1/datasets/<id>/records/search: 403), so
these go through the endpoints the Argilla UI itself uses, with the SDK's authenticated client:

    from curation.review.annotate import answer, my_records
    from curation.review.push import connect
    client = connect(url, annotator_key)
    for record in my_records(client, "demo_arena_review"):
        answer(client, record["id"], {"vote": "a", "category": "knowledge"})
"""

from __future__ import annotations

from curation.review.server import WORKSPACE, ReviewServerError

PAGE = 500


def my_records(client, dataset_name: str, workspace: str = WORKSPACE, pending_only: bool = True) -> list[dict]:
    """The records of the dataset as the annotator sees them in the UI (id, external_id, fields, metadata),
    those they have not answered yet unless pending_only is False."""
    dataset = client.datasets(name=dataset_name, workspace=workspace)
    if dataset is None:
        raise ReviewServerError(f"no Argilla dataset {dataset_name!r} in workspace {workspace!r} for this user")
    query = {"filters": {"and": [{"type": "terms", "scope": {"entity": "response", "property": "status"},
                                  "values": ["pending"]}]}} if pending_only else {}
    records, offset = [], 0
    while True:
        found = client.api.http_client.post(f"/api/v1/me/datasets/{dataset.id}/records/search",
                                            params={"offset": offset, "limit": PAGE}, json=query)
        found.raise_for_status()
        page = [item["record"] for item in found.json()["items"]]
        records += page
        offset += len(page)
        if len(page) < PAGE:
            return records


def answer(client, record_id: str, values: dict[str, str], status: str = "submitted") -> None:
    """The annotator's response to one record (its Argilla id): question -> value, submitted or draft."""
    done = client.api.http_client.post(f"/api/v1/records/{record_id}/responses",
                                       json={"values": {question: {"value": value} for question, value in values.items()},
                                             "status": status})
    if done.status_code != 201:
        raise ReviewServerError(f"Argilla refused the response to record {record_id}: {done.status_code} {done.text[:300]}")
