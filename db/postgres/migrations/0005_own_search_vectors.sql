-- Heatwave writes `search` and `title_search` itself (db/postgres/vectors.py) from the words it already makes:
-- the generated columns ran PostgreSQL's text parser three times per story on every write, the largest cost of
-- a bulk load on the server. The values already stored stay as they are (the same lexemes and weights), and
-- dropping the expressions rewrites nothing.
ALTER TABLE stories ALTER COLUMN search DROP EXPRESSION IF EXISTS;
ALTER TABLE stories ALTER COLUMN title_search DROP EXPRESSION IF EXISTS;
