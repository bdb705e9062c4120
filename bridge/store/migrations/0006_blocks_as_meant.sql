-- Blocks hit only whom the librarian meant: implied IP ranges and typed email addresses are lifted, asked-for ranges stay
-- Until now every "ip" block held a /24 or /64 network, and /block without a kind made an
-- ip (and, for a widget or Telegram patron, an email) block beside the patron's own in
-- the same instant. Those came with the patron's block, not from the librarian's
-- choice, and hit strangers (a whole school behind one address, the real owner of a
-- typed address): lifted. The patron's own block from that moment stays. A network
-- block made alone (/block 1d ip on the old version) was asked for: it stays, as the
-- range it always was.
DELETE FROM blocks
WHERE (kind = 'ip'
       OR (kind = 'email' AND conversation_id NOT IN (
           SELECT id FROM conversations WHERE origin = 'email')))
  AND EXISTS (SELECT 1 FROM blocks AS mate
              WHERE mate.conversation_id = blocks.conversation_id
                AND mate.created_at = blocks.created_at
                AND mate.kind IN ('visitor', 'telegram')
                AND mate.id != blocks.id);
UPDATE blocks SET kind = 'range' WHERE kind = 'ip';
