-- Nothing to do on SQLite, whose text is always Unicode: this file keeps the
-- version numbers of both dialects in step (see mysql/00004).

-- +goose Up
SELECT 1;
