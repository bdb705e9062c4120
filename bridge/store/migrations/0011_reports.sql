-- Reference statistics (a question's kind and READ effort, noted at /close), daily aggregates that outlive transcripts
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
-- The reference statistics count a question on the day it was noted (closed).
CREATE INDEX reference_marks_at ON reference_marks (marked_at);

-- Counts per day x channel x librarian ('' when nobody answered), summed by the reports
-- in SQL; durations as log-spaced histograms (bucket = 1 + floor(4 log2 seconds), 0 below
-- a second; bridge/admin/report_math.py): medians and 90th percentiles over rolled-up
-- days come from them.
CREATE TABLE report_days (
    day           TEXT NOT NULL,  -- YYYY-MM-DD in the library's time zone
    channel       TEXT NOT NULL,
    librarian_id  TEXT NOT NULL,
    conversations INTEGER NOT NULL,
    after_hours   INTEGER NOT NULL,
    answered      INTEGER NOT NULL,
    missed        INTEGER NOT NULL,
    rated_1       INTEGER NOT NULL,
    rated_2       INTEGER NOT NULL,
    rated_3       INTEGER NOT NULL,
    rated_4       INTEGER NOT NULL,
    rated_5       INTEGER NOT NULL,
    PRIMARY KEY (day, channel, librarian_id)
) WITHOUT ROWID;

CREATE TABLE report_durations (
    day          TEXT NOT NULL,
    librarian_id TEXT NOT NULL,
    what         TEXT NOT NULL,  -- 'first' (wait for the first answer) or 'close'
    bucket       INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (day, what, bucket, librarian_id)  -- in the order the reports group by
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
