-- The tables of the original Flask system, with its names and types, so that
-- an existing database of that system is used as is: every statement is
-- CREATE TABLE IF NOT EXISTS, which makes this migration a no-op there.
-- Nullability follows what Flask-SQLAlchemy created; additions are later
-- migrations.

-- +goose Up
CREATE TABLE IF NOT EXISTS `user` (
    `id` INT NOT NULL AUTO_INCREMENT,
    `name` VARCHAR(320) NOT NULL,
    `picture` VARCHAR(320) NULL,
    `roles` VARCHAR(15) NOT NULL,
    `current_role` VARCHAR(7) NULL,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `user_auth` (
    `id` INT NOT NULL AUTO_INCREMENT,
    `email` VARCHAR(320) NOT NULL,
    `password` VARCHAR(131) NOT NULL,
    `user_id` INT NULL,
    PRIMARY KEY (`id`),
    UNIQUE (`email`),
    UNIQUE (`user_id`),
    FOREIGN KEY (`user_id`) REFERENCES `user` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `user_oauth` (
    `google_id` VARCHAR(21) NOT NULL,
    `email` VARCHAR(320) NULL,
    `user_id` INT NULL,
    PRIMARY KEY (`google_id`),
    UNIQUE (`email`),
    UNIQUE (`user_id`),
    FOREIGN KEY (`user_id`) REFERENCES `user` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- `userid` has no foreign key in the original; it is kept that way.
CREATE TABLE IF NOT EXISTS `tutorial` (
    `id` VARCHAR(36) NOT NULL,
    `name` VARCHAR(320) NULL,
    `language` VARCHAR(100) NULL,
    `sequence` VARCHAR(10000) NULL,
    `userid` INT NULL,
    `start_date` DATETIME NULL,
    `end_date` DATETIME NULL,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `tutorial_section` (
    `id` VARCHAR(36) NOT NULL,
    `name` VARCHAR(320) NULL,
    `tutorial_type` VARCHAR(320) NULL,
    `code_input` VARCHAR(10000) NULL,
    `language` VARCHAR(100) NULL,
    `frequent_word` VARCHAR(1000) NULL,
    `duration` INT NULL,
    `tutorial_id` VARCHAR(36) NULL,
    PRIMARY KEY (`id`),
    FOREIGN KEY (`tutorial_id`) REFERENCES `tutorial` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `user_tutorial_state` (
    `user_id` INT NOT NULL,
    `tutorial_id` VARCHAR(36) NOT NULL,
    `last_page` INT NULL DEFAULT 1,
    PRIMARY KEY (`user_id`, `tutorial_id`),
    FOREIGN KEY (`user_id`) REFERENCES `user` (`id`),
    FOREIGN KEY (`tutorial_id`) REFERENCES `tutorial` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
