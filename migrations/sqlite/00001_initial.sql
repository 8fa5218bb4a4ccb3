-- The tables of the original system (API.md §1) with the same names and
-- types. AUTOINCREMENT keeps SQLite from reusing the id of a deleted user, as
-- MySQL's AUTO_INCREMENT does not reuse it: a token must never name another
-- person. E-mails compare case-insensitively, as under MySQL's collation.

-- +goose Up
CREATE TABLE IF NOT EXISTS `user` (
    `id` INTEGER PRIMARY KEY AUTOINCREMENT,
    `name` VARCHAR(320) NOT NULL,
    `picture` VARCHAR(320) NULL,
    `roles` VARCHAR(15) NOT NULL,
    `current_role` VARCHAR(7) NULL
);

CREATE TABLE IF NOT EXISTS `user_auth` (
    `id` INTEGER PRIMARY KEY AUTOINCREMENT,
    `email` VARCHAR(320) NOT NULL COLLATE NOCASE UNIQUE,
    `password` VARCHAR(131) NOT NULL,
    `user_id` INTEGER NULL UNIQUE REFERENCES `user` (`id`)
);

CREATE TABLE IF NOT EXISTS `user_oauth` (
    `google_id` VARCHAR(21) NOT NULL PRIMARY KEY,
    `email` VARCHAR(320) NULL COLLATE NOCASE UNIQUE,
    `user_id` INTEGER NULL UNIQUE REFERENCES `user` (`id`)
);

CREATE TABLE IF NOT EXISTS `tutorial` (
    `id` VARCHAR(36) NOT NULL PRIMARY KEY,
    `name` VARCHAR(320) NULL,
    `language` VARCHAR(100) NULL,
    `sequence` VARCHAR(10000) NULL,
    `userid` INTEGER NULL,
    `start_date` DATETIME NULL,
    `end_date` DATETIME NULL
);

CREATE TABLE IF NOT EXISTS `tutorial_section` (
    `id` VARCHAR(36) NOT NULL PRIMARY KEY,
    `name` VARCHAR(320) NULL,
    `tutorial_type` VARCHAR(320) NULL,
    `code_input` VARCHAR(10000) NULL,
    `language` VARCHAR(100) NULL,
    `frequent_word` VARCHAR(1000) NULL,
    `duration` INTEGER NULL,
    `tutorial_id` VARCHAR(36) NULL REFERENCES `tutorial` (`id`)
);

CREATE TABLE IF NOT EXISTS `user_tutorial_state` (
    `user_id` INTEGER NOT NULL REFERENCES `user` (`id`),
    `tutorial_id` VARCHAR(36) NOT NULL REFERENCES `tutorial` (`id`),
    `last_page` INTEGER NULL DEFAULT 1,
    PRIMARY KEY (`user_id`, `tutorial_id`)
);
