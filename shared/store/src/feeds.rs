//! Feed records and sync state (owned by the feed-sync work).
