-- The description column (00003) took the character set of the table it was
-- added to. On an original database created under an older server's defaults
-- (latin1, or utf8mb3) it could not hold emoji or most scripts. The column is
-- ITSS-Go's own, so it is converted; the original's columns are left as they
-- are: converting them rewrites the original's tables, an operator's decision.
-- Idempotent: nothing happens where the column is utf8mb4 already.

-- +goose Up
SET @ddl = IF((SELECT COUNT(*) FROM information_schema.columns
               WHERE table_schema = DATABASE() AND table_name = 'tutorial' AND column_name = 'description'
                 AND character_set_name <> 'utf8mb4') = 0,
              'DO 0',
              'ALTER TABLE `tutorial` MODIFY COLUMN `description` TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;
