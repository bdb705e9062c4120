-- Message words are indexed by the writer once per group commit, not by a trigger per row
--
-- The insert trigger of 0010 ran one FTS5 statement per message; FTS5 sets each
-- statement up anew (its structure record, the data version), about 18 us a message on
-- the writer thread, half of what a group commit spends on it. The writer now indexes
-- the rows a commit inserted with one INSERT ... SELECT in that same commit
-- (bridge/store/sqlite_writer.py, BatchWriter._append), so a message is searchable as
-- soon as it is committed, as before. Anything else that inserts messages must index
-- them the same way (bridge.store.sqlite_log.INDEX_MESSAGES_AFTER). The delete and
-- update triggers stay: retention deletes in bulk, and edits do not happen.

DROP TRIGGER messages_fts_insert;
