"""Auto-pagination follows next_cursor through starting_after until the last page."""

from __future__ import annotations

from typing import List

import httpx

import neoforge


def test_auto_paging_yields_every_item_once(client: neoforge.Client, sent: List[httpx.Request]) -> None:
    created = {client.api_keys.create(name=f"key {i}").id for i in range(5)}
    del sent[:]
    seen = [key.id for key in client.api_keys.list_auto_paging(limit=2)]
    assert sorted(seen) == sorted(created)
    # Pages of 2, 2 and 1, each starting after the last item of the one before.
    assert [r.url.params.get("starting_after") for r in sent] == [None, seen[1], seen[3]]
    assert {r.url.params["limit"] for r in sent} == {"2"}


def test_a_page_says_where_the_next_one_starts(client: neoforge.Client) -> None:
    for i in range(3):
        client.api_keys.create(name=f"key {i}")
    first = client.api_keys.list(limit=2)
    assert len(first.data) == 2 and first.has_more
    assert first.next_cursor is not None
    rest = client.api_keys.list(limit=2, starting_after=first.next_cursor)
    assert len(rest.data) == 1 and not rest.has_more and rest.next_cursor is None
    assert {k.id for k in first.data}.isdisjoint(k.id for k in rest.data)
