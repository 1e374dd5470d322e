-- The whole-account image list reads the images and their tags as two streams in the same
-- order, (image created_at DESC, image id), and pairs them as they arrive: the first image
-- is rendered at once, with no map of every tag of the account built first. For that each
-- tag carries its image's creation time (which never changes), filled in by a trigger on
-- insert so no writer can forget it, and an index gives the tags in list order.
ALTER TABLE image_tags ADD COLUMN image_created_at timestamptz;

UPDATE image_tags t SET image_created_at = i.created_at FROM images i WHERE i.id = t.image_id;

ALTER TABLE image_tags ALTER COLUMN image_created_at SET NOT NULL;

CREATE FUNCTION image_tags_image_created_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT created_at INTO NEW.image_created_at FROM images WHERE id = NEW.image_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER image_tags_image_created_at
    BEFORE INSERT OR UPDATE OF image_id ON image_tags
    FOR EACH ROW EXECUTE FUNCTION image_tags_image_created_at();

CREATE INDEX image_tags_list_order ON image_tags (account, image_created_at DESC, image_id);
