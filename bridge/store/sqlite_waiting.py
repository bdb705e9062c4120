"""Which patrons wait for an answer: the query behind the desk's reminders and the queue."""

from __future__ import annotations

import aiosqlite

from routing.reminders import Waiting

__all__ = ["waiting"]

# For each open conversation: the first patron message after the last librarian answer,
# the reminders (notes with event "reminder") already posted since that answer, and
# whether none of its patron messages still waits to be posted in the topic.
_WAITING = """
WITH answered AS (
  SELECT c.id AS conversation_id,
         COALESCE((SELECT MAX(l.id) FROM messages AS l
                    WHERE l.conversation_id = c.id AND l.direction = 'librarian'), '') AS after
    FROM conversations AS c WHERE c.status = 'open')
SELECT a.conversation_id, MIN(m.created_at) AS since,
       (SELECT COUNT(*) FROM messages AS r WHERE r.conversation_id = a.conversation_id
           AND r.id > a.after AND r.direction = 'note' AND r.event = 'reminder') AS sent,
       (SELECT MAX(r.created_at) FROM messages AS r WHERE r.conversation_id = a.conversation_id
           AND r.id > a.after AND r.direction = 'note' AND r.event = 'reminder') AS last,
       NOT EXISTS (SELECT 1 FROM deliveries AS d INDEXED BY deliveries_lane
                    WHERE d.state = 'pending' AND d.conversation_id = a.conversation_id
                      AND d.destination = 'desk' AND d.kind = 'to_desk') AS in_topic
  FROM answered AS a
  JOIN messages AS m ON m.conversation_id = a.conversation_id
                    AND m.id > a.after AND m.direction = 'patron'
 GROUP BY a.conversation_id
"""


async def waiting(db: aiosqlite.Connection) -> list[Waiting]:
    async with db.execute(_WAITING) as cursor:
        rows = await cursor.fetchall()
    return [Waiting(str(r[0]), float(r[1]), int(r[2]), None if r[3] is None else float(r[3]),
                    bool(r[4])) for r in rows]
