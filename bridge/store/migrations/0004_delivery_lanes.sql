-- Pending deliveries by lane, so a backlog in a few lanes never hides the others

CREATE INDEX deliveries_lane ON deliveries (conversation_id, destination, id)
    WHERE state = 'pending';
