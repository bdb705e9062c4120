-- Message words are indexed without a size row per message (FTS5 columnsize=0) and without the 2-character prefix index
--
-- FTS5 kept each message's token count in messages_fts_docsize, a REPLACE per message
-- on the writer thread (about 4% of what the writer spends on an append). Only bm25()
-- and snippet() read it; the search ranks by rowid and never calls bm25(), and snippet()
-- counts the tokens of the one message it cuts instead, for each excerpt on the page.
-- FTS5 uses a prefix index only for a prefix of exactly its length: "pinjam*" never
-- used the 2- and 3-character ones, and a 2-character search ("bu*") is rare and
-- matches much of the corpus anyway. That index cost the writer about 7% of its
-- SQLite work per message (callgrind, 20 a commit): it goes; a "bu*" search now merges
-- the doclists of the terms it covers, a few milliseconds at 200,000 messages instead
-- of 0.1, with the same results. The 3-character index ("pin*", as the transcript
-- bench searches) stays. The tokenizer is the same, so the same words find the same
-- messages.
-- The delete and update triggers of 0010 name the table, so they go on working.

DROP TABLE messages_fts;

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '3',
    columnsize = 0
);

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
