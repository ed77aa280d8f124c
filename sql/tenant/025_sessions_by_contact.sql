-- A contact's sessions, found by the contact: `GET /v1/contacts/{id}` (and its PATCH) list them,
-- and deleting a contact sets their `contact_id` to NULL (the foreign key). With no index on
-- the column each of those read every session of the brokerage.
--
-- Partial: agent-to-agent sessions have no contact. A send updates its session's row, and that
-- update is not HOT (`sessions_activity` changes with it), so every index holding the row gets
-- a new entry at every send: this one at the sends of client sessions with a contact. Measured
-- in docs/decisions/0054.
CREATE INDEX sessions_contact ON sessions (contact_id) WHERE contact_id IS NOT NULL;
