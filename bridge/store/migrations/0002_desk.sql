-- The desk: subjects, closing and rating details, first response time, edits, blocks and librarians

ALTER TABLE conversations ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN closed_at REAL NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN first_response_at REAL NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN rating_comment TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN rated_librarian_id TEXT NOT NULL DEFAULT '';

ALTER TABLE messages ADD COLUMN replaces TEXT NOT NULL DEFAULT '';

-- Few rows (a handful of troublemakers); the store keeps them in memory, so every patron
-- message is checked without a query.
CREATE TABLE blocks (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    value           TEXT NOT NULL,
    until           REAL,  -- NULL: forever
    by              TEXT NOT NULL DEFAULT '',
    conversation_id TEXT NOT NULL DEFAULT '',
    created_at      REAL NOT NULL
);

CREATE TABLE librarians (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    username   TEXT NOT NULL DEFAULT '',  -- lower case, without "@"
    on_duty    INTEGER NOT NULL DEFAULT 0,
    changed_at REAL NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX librarians_username ON librarians (username) WHERE username != '';
