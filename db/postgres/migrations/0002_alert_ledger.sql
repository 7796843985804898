-- 0002: alert_deliveries loses its per-row foreign-key check on story_id; a statement trigger keeps the cascade.
-- Why: the due selection of a 1,000-change burst inserts ~150k deliveries in one statement (10k subscriptions),
-- and PostgreSQL checks a foreign key once per inserted row (a lookup and a KEY SHARE lock on the story each
-- time), which alone took about a third of the pass against a 1 s budget. Every insert into the ledger takes
-- its story ids from `stories` in the same statement, and Heatwave never deletes stories, so the check guards
-- nothing in practice; what the constraint also did, deleting a story's deliveries with it (an operator's
-- manual clean-up), is kept by the trigger below, once per DELETE statement.
ALTER TABLE alert_deliveries DROP CONSTRAINT alert_deliveries_story_id_fkey;

CREATE FUNCTION alert_deliveries_forget_stories() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM alert_deliveries d USING gone_stories g WHERE d.story_id = g.id;
    RETURN NULL;
END $$;
CREATE TRIGGER stories_forget_deliveries AFTER DELETE ON stories
    REFERENCING OLD TABLE AS gone_stories FOR EACH STATEMENT EXECUTE FUNCTION alert_deliveries_forget_stories();
