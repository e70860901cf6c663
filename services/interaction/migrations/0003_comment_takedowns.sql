-- Comments taken down by moderation (oasis.moderation.v1 TAKEDOWN, until reversed): like
-- deleted ones they leave every list and the post's comment count, but a REVERSE brings
-- them back, so the flag is kept apart from deleted_at (the author's own delete).
ALTER TABLE comments ADD COLUMN taken_down TINYINT(1) NOT NULL DEFAULT 0;
