-- The badge's unread count per user, kept as it changes instead of recounted over every
-- session of the user at each badge (issue 15: an agent with 8,000 sessions made every badge
-- a scan of 8,000 memberships under the event clock).
--
-- A change appends its difference to badge_deltas (triggers in
-- functions/badge_session_changed.sql and functions/badge_member_changed.sql; each membership
-- contributes unread_contribution()): no write waits for another on a per-user row.
-- sequence_events() folds the deltas into badge_counts under the event clock, one folder at a
-- time; a user's count is their badge_counts row plus their deltas not yet folded
-- (unread_messages()). Filled by functions/badge_session_changed.sql, in the transaction that
-- installs the triggers.
CREATE TABLE badge_counts (
    user_id text   PRIMARY KEY,
    unread  bigint NOT NULL
);
CREATE TABLE badge_deltas (
    user_id text   NOT NULL,
    delta   bigint NOT NULL
);
CREATE INDEX badge_deltas_user ON badge_deltas (user_id);
