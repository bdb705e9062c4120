-- Desk state of a conversation or a message in tables of its own, deleted with it; the key-value state keeps cursors
--
-- Until now the info card of a topic, the email thread of a conversation and how far the
-- send of a message got were keys in `state` (one per conversation or message, never
-- removed). They move here, each row owned by its conversation or message: a row whose
-- owner is gone is dropped, as it would have been with its owner.

CREATE TABLE desk_cards (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    message_id      INTEGER NOT NULL,  -- the info card's Telegram message id
    tail            TEXT               -- what followed the card in its post; NULL: unknown
) WITHOUT ROWID;

CREATE TABLE mail_threads (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    subject         TEXT NOT NULL DEFAULT '',
    last_patron_id  TEXT NOT NULL DEFAULT '',  -- Message-ID of the patron's last mail
    refs            TEXT NOT NULL DEFAULT '[]',  -- JSON array of the Message-IDs a reply cites
    acknowledged    INTEGER NOT NULL DEFAULT 0  -- the after-hours acknowledgement went
) WITHOUT ROWID;

-- How far the send of one message to one place got, so a retry goes on from there.
CREATE TABLE message_posts (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    place      TEXT NOT NULL,
    posted     TEXT NOT NULL,
    PRIMARY KEY (message_id, place)
) WITHOUT ROWID;

INSERT INTO desk_cards (conversation_id, message_id, tail)
SELECT c.id, CAST(card.value AS INTEGER),
       (SELECT tail.value FROM state AS tail WHERE tail.key = 'telegram.desk.card_tail.' || c.id)
  FROM state AS card JOIN conversations AS c ON card.key = 'telegram.desk.card.' || c.id
 WHERE card.value GLOB '[0-9]*';

INSERT INTO mail_threads (conversation_id, subject, last_patron_id, refs, acknowledged)
SELECT c.id,
       COALESCE(json_extract(t.value, '$.subject'), ''),
       COALESCE(json_extract(t.value, '$.last'), ''),
       COALESCE(json_extract(t.value, '$.refs'), '[]'),
       EXISTS (SELECT 1 FROM state AS ack WHERE ack.key = 'email.ack.' || c.id)
  FROM state AS t JOIN conversations AS c ON t.key = 'email.thread.' || c.id
 WHERE json_valid(t.value) AND json_type(t.value) = 'object';

INSERT INTO mail_threads (conversation_id, acknowledged)
SELECT c.id, 1
  FROM state AS ack JOIN conversations AS c ON ack.key = 'email.ack.' || c.id
 WHERE NOT EXISTS (SELECT 1 FROM mail_threads AS t WHERE t.conversation_id = c.id);

INSERT INTO message_posts (message_id, place, posted)
SELECT m.id, 'telegram.patron', s.value
  FROM state AS s JOIN messages AS m ON s.key = 'telegram.patron.sent.' || m.id;

INSERT INTO message_posts (message_id, place, posted)
SELECT m.id, 'telegram.patron.all', s.value
  FROM state AS s JOIN messages AS m ON s.key = 'telegram.patron.sent_all.' || m.id;

-- 'tg.posts.<message id>.<chat id>': message ids hold no dot.
INSERT INTO message_posts (message_id, place, posted)
SELECT m.id, 'telegram.posts.' || substr(s.key, length('tg.posts.' || m.id || '.') + 1), s.value
  FROM state AS s JOIN messages AS m ON s.key GLOB 'tg.posts.' || m.id || '.*';

DELETE FROM state
 WHERE key GLOB 'telegram.desk.card.*' OR key GLOB 'telegram.desk.card_tail.*'
    OR key GLOB 'email.thread.*' OR key GLOB 'email.ack.*'
    OR key GLOB 'telegram.patron.sent.*' OR key GLOB 'telegram.patron.sent_all.*'
    OR key GLOB 'tg.posts.*';

-- The thanks for a rating in a patron's Telegram chat ('telegram.patron.rating.<chat>:<id>'
-- -> '<conversation id>:<score>') leads to its conversation: a link (the score is the
-- conversation's own rating).
INSERT OR IGNORE INTO links (channel, external_id, conversation_id, message_id)
SELECT 'telegram.rated', substr(s.key, length('telegram.patron.rating.') + 1), c.id, ''
  FROM state AS s JOIN conversations AS c
    ON s.key GLOB 'telegram.patron.rating.*' AND s.value GLOB c.id || ':*';
DELETE FROM state WHERE key GLOB 'telegram.patron.rating.*';

-- Links belong to their conversation too: rebuilt so they go with it.
CREATE TABLE links_owned (
    channel         TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (channel, external_id)
) WITHOUT ROWID;
-- (A link to no conversation could only come from a file written with foreign keys off;
-- it leads nowhere, and would stop this migration.)
INSERT INTO links_owned SELECT channel, external_id, conversation_id, message_id FROM links
 WHERE conversation_id IN (SELECT id FROM conversations);
DROP TABLE links;
ALTER TABLE links_owned RENAME TO links;

-- What a channel keeps per contact point, in columns: a Telegram chat's language and
-- since when the bot is blocked there ('telegram.patron.<user id>' -> 'lang|since'), a
-- widget visitor's token generation ('widget-visitor-generation:<visitor>' -> 'n'), the
-- code pending for an address a visitor typed ('email-proof:<channel>:<address>' -> JSON
-- [email, salt, digest, expires, tries], or '' once spent).
CREATE TABLE contact_states (
    channel           TEXT NOT NULL,
    address           TEXT NOT NULL,
    language          TEXT NOT NULL DEFAULT '',
    unreachable_since REAL NOT NULL DEFAULT 0,
    token_generation  INTEGER NOT NULL DEFAULT 0,
    proof_email       TEXT,  -- a code pending for a typed address; NULL: none
    proof_salt        TEXT,
    proof_digest      TEXT,  -- only the salted hash of the code is kept
    proof_expires     REAL,
    proof_tries       INTEGER,
    PRIMARY KEY (channel, address)
) WITHOUT ROWID;

INSERT INTO contact_states (channel, address, language, unreachable_since)
SELECT 'telegram', substr(key, 17), substr(value, 1, instr(value, '|') - 1),
       CAST(substr(value, instr(value, '|') + 1) AS REAL)
  FROM state
 WHERE key GLOB 'telegram.patron.[0-9]*' AND substr(key, 17) NOT GLOB '*[^0-9]*'
   AND instr(value, '|') > 0;

INSERT INTO contact_states (channel, address, token_generation)
SELECT 'widget', substr(key, 27), CAST(value AS INTEGER)
  FROM state
 WHERE key GLOB 'widget-visitor-generation:?*' AND value GLOB '[0-9]*'
   AND value NOT GLOB '*[^0-9]*';

INSERT INTO contact_states (channel, address, proof_email, proof_salt, proof_digest,
                            proof_expires, proof_tries)
SELECT substr(key, 13, instr(substr(key, 13), ':') - 1),
       substr(key, 13 + instr(substr(key, 13), ':')),
       json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]'), json_extract(value, '$[4]')
  FROM state
 WHERE key GLOB 'email-proof:?*:?*' AND json_valid(value) AND json_type(value) = 'array'
   AND json_array_length(value) = 5
ON CONFLICT (channel, address) DO UPDATE SET proof_email = excluded.proof_email,
   proof_salt = excluded.proof_salt, proof_digest = excluded.proof_digest,
   proof_expires = excluded.proof_expires, proof_tries = excluded.proof_tries;

DELETE FROM state
 WHERE (key GLOB 'telegram.patron.[0-9]*' AND substr(key, 17) NOT GLOB '*[^0-9]*')
    OR key GLOB 'widget-visitor-generation:*' OR key GLOB 'email-proof:*';
