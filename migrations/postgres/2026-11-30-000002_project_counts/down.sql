ALTER TABLE projects DROP COLUMN knowledge_count;
ALTER TABLE projects DROP COLUMN calls_count;
