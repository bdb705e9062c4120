-- Patrons' email addresses: confirmed or only typed; a typed one never holds the email contact

ALTER TABLE patrons ADD COLUMN email_confirmed INTEGER NOT NULL DEFAULT 0;

-- A patron who wrote by email proved the address as far as mail can; mark it confirmed.
UPDATE patrons SET email_confirmed = 1
 WHERE email != ''
   AND EXISTS (SELECT 1 FROM contacts AS c WHERE c.patron_id = patrons.id
                AND c.channel = 'email' AND c.address = lower(patrons.email))
   AND NOT EXISTS (SELECT 1 FROM contacts AS c WHERE c.patron_id = patrons.id
                    AND c.channel = 'widget');

-- An email contact a widget visitor holds came from an address typed into the widget,
-- never proved: let it go, so the owner's own mail opens their own conversation.
DELETE FROM contacts
 WHERE channel = 'email'
   AND patron_id IN (SELECT patron_id FROM contacts WHERE channel = 'widget');
