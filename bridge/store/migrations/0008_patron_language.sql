-- The language each patron reads, from their widget; "" while unknown (the library's default)

ALTER TABLE patrons ADD COLUMN language TEXT NOT NULL DEFAULT '';
