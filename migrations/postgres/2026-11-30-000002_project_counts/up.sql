-- Per-project totals kept in step with every insert and delete, so list endpoints answer
-- `pagination.total` without counting a project's rows on each request.
ALTER TABLE projects ADD COLUMN calls_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN knowledge_count BIGINT NOT NULL DEFAULT 0;
UPDATE projects SET
    calls_count = (SELECT COUNT(*) FROM calls WHERE calls.project_id = projects.id),
    knowledge_count = (SELECT COUNT(*) FROM knowledge_items WHERE knowledge_items.project_id = projects.id);
