-- Staff accounts of the dashboard, their sessions, the audit log and patrons' erasure records

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'librarian')),
    password_hash TEXT NOT NULL,
    telegram_id INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);

CREATE TABLE staff_sessions (
    id TEXT PRIMARY KEY,            -- sha256 of the cookie's random value, never the value
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX staff_sessions_account ON staff_sessions(account_id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    account TEXT NOT NULL,          -- the staff name at the time ("" before sign-in)
    address TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TABLE erasures (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    erased_by TEXT NOT NULL,
    kinds TEXT NOT NULL             -- what was deleted, counted by kind (JSON); never the data
);
