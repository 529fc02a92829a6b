-- Why a waiting notification failed, coarsely: 'refused' (the destination is not one Ward may
-- connect to) or 'failed' (the receiver or the network). Members see only this; the error's
-- text stays with the central team and the server's log.
ALTER TABLE outbox ADD COLUMN failure TEXT CHECK (failure IN ('refused', 'failed'));
