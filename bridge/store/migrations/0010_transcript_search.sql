-- Full-text search over messages' text for the dashboard's transcripts, kept in step by triggers
--
-- An external-content FTS5 table: the text lives once, in messages; the index holds only
-- the words, keyed by the messages' rowid. unicode61 with diacritics removed finds
-- "buku" in "Buku" and "cafe" in "café"; prefix indexes of 2 and 3 characters keep a
-- "pinjam*" search a range scan. Messages are never updated in place (an edit is a new
-- message), so insert and delete are all the triggers there are; the update trigger is
-- there for safety. Nothing here runs VACUUM, which may renumber the rowids of a table
-- without an INTEGER PRIMARY KEY: whoever runs it must rebuild this index after
-- (INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')).

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
END;

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

-- Transcripts are found by date and by channel; conversations_newest already orders by
-- created_at. Messages by time serve the retention job's "older than" scan.
CREATE INDEX messages_created ON messages (created_at);
