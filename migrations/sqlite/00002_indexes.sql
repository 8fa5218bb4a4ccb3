-- Indexes for the listing queries, plus the foreign-key columns that SQLite,
-- unlike InnoDB, does not index by itself (deleting a tutorial scans them).

-- +goose Up
CREATE INDEX IF NOT EXISTS `ix_tutorial_userid` ON `tutorial` (`userid`);
CREATE INDEX IF NOT EXISTS `ix_tutorial_start_date` ON `tutorial` (`start_date`);
CREATE INDEX IF NOT EXISTS `ix_tutorial_section_tutorial_id` ON `tutorial_section` (`tutorial_id`);
CREATE INDEX IF NOT EXISTS `ix_user_tutorial_state_tutorial_id` ON `user_tutorial_state` (`tutorial_id`);
