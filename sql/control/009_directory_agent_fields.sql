-- The fields of a directory record an agent set themselves (PATCH /v1/directory/me: bio, photo,
-- languages, areas, specialties, listed and the contact opt-ins). An integration's write keeps
-- the stored values of these (parley.directory_kept()), so a sync of newer data changes the
-- brokerage's fields and leaves the agent's choices, their opt-outs above all (decision 0060).
-- Rows written before this migration have none: what an agent chose before is not known.
ALTER TABLE parley.directory_members ADD COLUMN agent_fields text[] NOT NULL DEFAULT '{}';
