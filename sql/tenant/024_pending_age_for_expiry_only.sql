-- chat_requests_pending_age is for the expiry of pending requests by age (ChatRequestStore+Expiry,
-- +Agents), whose conditions bound created_at. Its predicate now says so: `created_at IS NOT NULL`
-- holds for every row (the column is NOT NULL), and a bound on created_at implies it, but a
-- query that does not bound created_at cannot use the index (docs/decisions/0052).
--
-- With `status = 'pending'` alone as its predicate, every query about pending requests could use
-- it: a count of one agent's pending requests, or the lookup of a visitor's pending request.
-- Planned on a brokerage's empty table, those plans walked this index — every pending request
-- of the brokerage — with a filter on the agent, where chat_requests_agent or the partial unique
-- indexes find the rows by key, and a generic plan kept that while the requests piled up.
DROP INDEX chat_requests_pending_age;
CREATE INDEX chat_requests_pending_age ON chat_requests (created_at)
    WHERE status = 'pending' AND created_at IS NOT NULL;
