-- Whether the images a sync's changes touch have been queued for re-evaluation. A sync
-- that crashed after committing batches, or whose evaluations could not all be queued,
-- leaves its changes here unqueued; the next sync of the same feed queues them (the
-- resumed sync itself finds those records unchanged and would record no change).
ALTER TABLE feed_syncs ADD COLUMN reevaluation_queued boolean NOT NULL DEFAULT false;
-- Syncs before this migration were handled the old way.
UPDATE feed_syncs SET reevaluation_queued = true;
CREATE INDEX feed_syncs_awaiting_reevaluation ON feed_syncs (feed) WHERE NOT reevaluation_queued;
