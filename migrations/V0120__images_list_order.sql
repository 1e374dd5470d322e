-- Listing an account's images orders them by (created_at DESC, id): with id in the index the
-- rows come out of it in that order, with no sort step (10 000 images: no sort of 10 000 rows).
CREATE INDEX images_account_created_id ON images (account, created_at DESC, id);
DROP INDEX images_account_created;
