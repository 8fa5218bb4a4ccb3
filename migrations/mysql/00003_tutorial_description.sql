-- A nullable description for tutorials (API.md A1). MariaDB has ADD COLUMN IF
-- NOT EXISTS but MySQL 8 does not, so the column is added only when
-- information_schema does not list it yet: the migration is idempotent on both,
-- including on a database where the column was added by hand.

-- +goose Up
SET @ddl = IF((SELECT COUNT(*) FROM information_schema.columns
               WHERE table_schema = DATABASE() AND table_name = 'tutorial' AND column_name = 'description') = 0,
              'ALTER TABLE `tutorial` ADD COLUMN `description` TEXT NULL', 'DO 0');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;
