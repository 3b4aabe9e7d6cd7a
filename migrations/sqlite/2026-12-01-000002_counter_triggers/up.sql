-- The per-project totals are kept by the database itself, one mechanism for every write
-- path (dashboard, API, import, demo): a trigger per table and operation.
CREATE TRIGGER calls_counted_on_insert AFTER INSERT ON calls BEGIN
    UPDATE projects SET calls_count = calls_count + 1 WHERE id = NEW.project_id;
END;
CREATE TRIGGER calls_counted_on_delete AFTER DELETE ON calls BEGIN
    UPDATE projects SET calls_count = calls_count - 1 WHERE id = OLD.project_id;
END;
CREATE TRIGGER knowledge_counted_on_insert AFTER INSERT ON knowledge_items BEGIN
    UPDATE projects SET knowledge_count = knowledge_count + 1 WHERE id = NEW.project_id;
END;
CREATE TRIGGER knowledge_counted_on_delete AFTER DELETE ON knowledge_items BEGIN
    UPDATE projects SET knowledge_count = knowledge_count - 1 WHERE id = OLD.project_id;
END;

-- Deletes before this migration did not lower the knowledge total: count afresh.
UPDATE projects SET
    calls_count = (SELECT COUNT(*) FROM calls WHERE calls.project_id = projects.id),
    knowledge_count = (SELECT COUNT(*) FROM knowledge_items WHERE knowledge_items.project_id = projects.id);
