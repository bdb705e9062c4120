-- Attachments: files a message carries, as JSON (kind, name, mime, size, digest, note)

ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '';
