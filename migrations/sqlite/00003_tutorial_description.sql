-- A nullable description for tutorials (API.md A1). SQLite databases are only
-- ever created by these migrations, which run under the migration lock, so a
-- plain ADD COLUMN runs exactly once.

-- +goose Up
ALTER TABLE `tutorial` ADD COLUMN `description` TEXT NULL;
