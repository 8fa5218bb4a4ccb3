-- Indexes for the two listing queries: an author's tutorials (by `userid`) and
-- the published catalogue (by `start_date`). InnoDB already indexes the
-- foreign-key columns of tutorial_section and user_tutorial_state.
--
-- MySQL DDL is not transactional and MySQL 8 has no CREATE INDEX IF NOT EXISTS,
-- so each index is created only when information_schema does not list it: a
-- run interrupted between the two statements completes on the next start.

-- +goose Up
SET @ddl = IF((SELECT COUNT(*) FROM information_schema.statistics
               WHERE table_schema = DATABASE() AND table_name = 'tutorial' AND index_name = 'ix_tutorial_userid') = 0,
              'CREATE INDEX `ix_tutorial_userid` ON `tutorial` (`userid`)', 'DO 0');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = IF((SELECT COUNT(*) FROM information_schema.statistics
               WHERE table_schema = DATABASE() AND table_name = 'tutorial' AND index_name = 'ix_tutorial_start_date') = 0,
              'CREATE INDEX `ix_tutorial_start_date` ON `tutorial` (`start_date`)', 'DO 0');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;
