-- Message words are indexed without a size row per message (FTS5 columnsize=0): one B-tree write less a message
--
-- FTS5 kept each message's token count in messages_fts_docsize, a REPLACE per message
-- on the writer thread (about 4% of what the writer spends on an append). Only bm25()
-- and snippet() read it; the search ranks by rowid and never calls bm25(), and snippet()
-- counts the tokens of the one message it cuts instead, for each excerpt on the page.
-- The index is built again with the same tokenizer and prefixes, so the same words
-- find the same messages. (The 2- and 3-character prefix indexes cost about twice as
-- much as the sizes; they stay, or a "bu*" search would merge every term's doclist.)
-- The delete and update triggers of 0010 name the table, so they go on working.

DROP TABLE messages_fts;

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3',
    columnsize = 0
);

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
