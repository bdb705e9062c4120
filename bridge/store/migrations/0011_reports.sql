-- Reference statistics (a question's kind and READ effort, noted at /close), daily aggregates that outlive transcripts, indexes for the reports
--
-- The aggregates are written by roll_up (bridge/store/sqlite_reports.py) for whole days
-- in the library's time zone, before retention deletes the conversations they count;
-- the reports read them for the days rolled up and the live rows for the days after.

CREATE TABLE reference_marks (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL DEFAULT '',  -- one of [desk] question_kinds, or ''
    read_level      INTEGER,                   -- READ scale 1..6; NULL: not noted
    librarian_id    TEXT NOT NULL DEFAULT '',
    marked_at       REAL NOT NULL
) WITHOUT ROWID;

-- One row per day x channel x librarian ('' when nobody answered). Histograms are JSON
-- objects {bucket: count} over log-spaced buckets of seconds (bridge/admin/report_math.py):
-- medians and 90th percentiles over rolled-up days come from them.
CREATE TABLE report_days (
    day            TEXT NOT NULL,  -- YYYY-MM-DD in the library's time zone
    channel        TEXT NOT NULL,
    librarian_id   TEXT NOT NULL,
    conversations  INTEGER NOT NULL,
    after_hours    INTEGER NOT NULL,
    answered       INTEGER NOT NULL,
    missed         INTEGER NOT NULL,
    ratings        TEXT NOT NULL,  -- JSON [n1, n2, n3, n4, n5]
    first_response TEXT NOT NULL,  -- histogram of the wait for the first answer
    to_close       TEXT NOT NULL,  -- histogram of the time from opening to /close
    PRIMARY KEY (day, channel, librarian_id)
) WITHOUT ROWID;

-- Reference statistics per day x librarian x kind x READ level ('' and 0: not noted).
CREATE TABLE report_reference (
    day          TEXT NOT NULL,
    librarian_id TEXT NOT NULL,
    kind         TEXT NOT NULL,
    read_level   INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (day, librarian_id, kind, read_level)
) WITHOUT ROWID;

-- Conversations opened per day and hour of the day (the heat map), tags and pages per day.
CREATE TABLE report_hours (
    day  TEXT NOT NULL,
    hour INTEGER NOT NULL,
    n    INTEGER NOT NULL,
    PRIMARY KEY (day, hour)
) WITHOUT ROWID;

CREATE TABLE report_terms (
    day  TEXT NOT NULL,
    what TEXT NOT NULL,  -- 'tag' or 'page'
    term TEXT NOT NULL,
    n    INTEGER NOT NULL,
    PRIMARY KEY (day, what, term)
) WITHOUT ROWID;

-- The live part of a report reads conversations by opening time with these columns only.
CREATE INDEX conversations_report ON conversations (
    created_at, origin, after_hours, first_response_at, closed_at, status, rating,
    claimed_by_id);
