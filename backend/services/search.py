"""Full-text search over the pages of every document a person may read. Pages are indexed by their
folded text (lower case, no diacritics), so "nghi quyet" finds "Nghị quyết": SQLite FTS5 on the
embedded default, a GIN-indexed 'simple' tsvector on PostgreSQL (migration 0008). Every word must
occur; the last may be the start of a word (search as you type). Hits come back best first, with
the page number and a snippet of the original text."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.db import Database
from backend.domain.meeting_states import Action, Role, Status, decide
from backend.domain.text import fold_aligned, search_terms
from backend.exceptions import BadRequest
from backend.models import Document, DocumentReader, Meeting, Participant, taking_part
from backend.services.access import Membership
from backend.services.context import Actor
from backend.services.documents import may_read

SNIPPET = 160
RANKED = 2_000  # PostgreSQL: at most this many matching pages are ranked


async def visible_documents(s: AsyncSession, actor: Actor,
                            meeting_id: int | None) -> dict[int, tuple[str, int, str, bool]]:
    """document id -> (title, meeting id, meeting title, Mật) for every document `actor` may read."""
    query = (select(Document, Meeting, Participant)
             .join(Meeting, col(Meeting.id) == Document.meeting_id)
             .join(Participant, col(Participant.meeting_id) == Document.meeting_id)
             .where((Participant.user_id == actor.user_id) | (Participant.deputy_user_id == actor.user_id),
                    taking_part(), col(Document.removed_at).is_(None), Document.current_version > 0))
    if meeting_id is not None:
        query = query.where(Document.meeting_id == meeting_id)
    rows = (await s.exec(query)).all()
    named: dict[int, list[int]] = defaultdict(list)
    ids = [d.id for d, _, _ in rows if d.audience == "named"]
    if ids:
        for reader in (await s.exec(select(DocumentReader).where(col(DocumentReader.document_id).in_(ids)))).all():
            named[reader.document_id].append(reader.user_id)
    out: dict[int, tuple[str, int, str, bool]] = {}
    for document, meeting, participant in rows:
        # The same two rules as reading one document: the meeting's (a draft is the staff's), then the document's.
        member = Membership(participant, Role(participant.role), participant.user_id != actor.user_id)
        if not decide(member.role, Status(meeting.status), Action.VIEW).allowed:
            continue
        if may_read(document, member, named.get(document.id or 0, [])):
            out[document.id or 0] = (document.title, meeting.id or 0, meeting.title, document.secret)
    return out


async def search(db: Database, actor: Actor, query: str, *, meeting_id: int | None = None,
                 document_id: int | None = None, limit: int = 20) -> dict[str, Any]:
    terms = search_terms(query)
    if not terms:
        raise BadRequest("type at least one word to search for", code="empty_query")
    async with db.read() as s:
        documents = await visible_documents(s, actor, meeting_id)
        if document_id is not None:
            documents = {k: v for k, v in documents.items() if k == document_id}
        if not documents:
            return {"query": query, "terms": terms, "hits": []}
        rows = await _matching_pages(s, db.is_sqlite, terms, sorted(documents), limit)
    hits = []
    for document_id_, page, page_text, folded in rows:
        title, meeting_id_, meeting_title, secret = documents[document_id_]
        # A Mật document's text leaves the server only as a recorded, watermarked copy (the viewer): a
        # snippet would be an unrecorded one. Its hit says where to look, not what is there.
        snippet, marks = ("", []) if secret else _snippet(page_text, folded, terms)
        hits.append({"document_id": document_id_, "document_title": title, "meeting_id": meeting_id_,
                     "meeting_title": meeting_title, "page": page, "secret": secret, "snippet": snippet,
                     "highlights": marks})
    return {"query": query, "terms": terms, "hits": hits}


async def _matching_pages(s: AsyncSession, sqlite: bool, terms: list[str], document_ids: list[int],
                          limit: int) -> list[tuple[int, int, str, str]]:
    ids = ",".join(str(int(i)) for i in document_ids)  # integers from our own query: safe to inline
    if sqlite:
        # FTS5: every term a quoted string (no query syntax gets through), the last one a prefix.
        match = " ".join(f'"{t}"' for t in terms[:-1]) + f' "{terms[-1]}"*'
        sql = text(f"SELECT p.document_id, p.page, p.text, p.folded FROM document_pages_fts f "
                   f"JOIN document_pages p ON p.id = f.rowid WHERE document_pages_fts MATCH :match "
                   f"AND p.current = 1 AND p.document_id IN ({ids}) ORDER BY bm25(document_pages_fts), p.id "
                   f"LIMIT :limit")
        params: dict[str, Any] = {"match": match, "limit": limit}
    else:
        # Terms are letters and digits only (search_terms), so they are safe tsquery lexemes.
        tsquery = " & ".join(terms[:-1] + [f"{terms[-1]}:*"])
        # Ranking reads every match's tsvector: a phrase found on thousands of pages ranks the first
        # RANKED of them (in index order), which keeps the answer fast however common the words are.
        sql = text(f"WITH hits AS (SELECT p.id, p.fts_vector FROM document_pages p "
                   f"WHERE p.fts_vector @@ to_tsquery('simple', :q) AND p.current "
                   f"AND p.document_id IN ({ids}) LIMIT {RANKED}) "
                   f"SELECT p.document_id, p.page, p.text, p.folded FROM hits JOIN document_pages p ON p.id = hits.id "
                   f"ORDER BY ts_rank(hits.fts_vector, to_tsquery('simple', :q)) DESC, p.id LIMIT :limit")
        params = {"q": tsquery, "limit": limit}
    result = await s.exec(sql.bindparams(**params))  # type: ignore[call-overload]
    return [(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in result.all()]


def _snippet(page_text: str, folded: str, terms: list[str]) -> tuple[str, list[list[int]]]:
    """About SNIPPET characters of the page around the first hit, and where each term occurs in it."""
    first = min((i for i in (folded.find(t) for t in terms) if i >= 0), default=0)
    start = max(0, first - SNIPPET // 3)
    end = min(len(page_text), start + SNIPPET)
    snippet = " ".join(page_text[start:end].split())
    folded_snippet = fold_aligned(snippet)
    marks = []
    for term in terms:
        at = folded_snippet.find(term)
        while at >= 0:
            marks.append([at, at + len(term)])
            at = folded_snippet.find(term, at + len(term))
    marks.sort()
    prefix, suffix = ("…" if start > 0 else ""), ("…" if end < len(page_text) else "")
    shift = len(prefix)
    return prefix + snippet + suffix, [[a + shift, b + shift] for a, b in marks]
