-- Patrons and their contacts, conversations, messages, the outbox, links and key-value state
--
-- Ids are new_id() strings that sort by creation time, so "after" and "oldest first" are
-- plain range scans. Enums are stored as their string values.

CREATE TABLE patrons (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    member_number TEXT NOT NULL DEFAULT '',
    created_at    REAL NOT NULL DEFAULT 0
);

-- One contact point belongs to one patron: patron_by_contact is a primary-key lookup.
CREATE TABLE contacts (
    channel   TEXT NOT NULL,
    address   TEXT NOT NULL,
    patron_id TEXT NOT NULL REFERENCES patrons (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,  -- keeps Patron.contacts in the order it was saved
    PRIMARY KEY (channel, address)
) WITHOUT ROWID;
CREATE INDEX contacts_patron ON contacts (patron_id, position);

CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    patron_id     TEXT NOT NULL REFERENCES patrons (id),
    origin        TEXT NOT NULL,
    status        TEXT NOT NULL,
    claimed_by    TEXT NOT NULL DEFAULT '',
    claimed_by_id TEXT NOT NULL DEFAULT '',
    desk_thread   INTEGER,
    after_hours   INTEGER NOT NULL DEFAULT 0,
    tags          TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
    rating        INTEGER,
    page          TEXT NOT NULL DEFAULT '{}',  -- JSON object of the non-empty PageInfo fields
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL
);
CREATE INDEX conversations_patron ON conversations (patron_id, created_at, id);
CREATE INDEX conversations_thread ON conversations (desk_thread) WHERE desk_thread IS NOT NULL;
CREATE INDEX conversations_newest ON conversations (created_at, id);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    direction       TEXT NOT NULL,
    text            TEXT NOT NULL,
    author          TEXT NOT NULL DEFAULT '',
    client_id       TEXT NOT NULL DEFAULT '',
    external_id     TEXT NOT NULL DEFAULT '',
    event           TEXT NOT NULL DEFAULT '',
    created_at      REAL NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
-- A resend from the patron side carries the same client_id: it must never be stored twice.
CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, client_id)
    WHERE client_id != '';

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    message_id      TEXT NOT NULL REFERENCES messages (id),
    kind            TEXT NOT NULL,
    destination     TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    state           TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    external_id     TEXT NOT NULL DEFAULT '',
    created_at      REAL NOT NULL
) WITHOUT ROWID;
-- Done rows stay as the delivery record; these partial indexes hold only pending rows,
-- so the outbox queries cost what is pending, not what was ever sent. Both grow at
-- their end (ids and times only increase), which keeps a group commit's pages few.
CREATE INDEX deliveries_pending ON deliveries (id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_waiting ON deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE links (
    channel         TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    message_id      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (channel, external_id)
) WITHOUT ROWID;

CREATE TABLE state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
