-- The per-project totals are kept by the database itself, one mechanism for every write
-- path (dashboard, API, import, demo): statement-level triggers that add what a statement
-- inserted and subtract what it deleted.
CREATE FUNCTION callem_count_calls() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE projects p SET calls_count = p.calls_count + n.c
        FROM (SELECT project_id, COUNT(*) AS c FROM new_rows GROUP BY project_id) n
        WHERE p.id = n.project_id;
    ELSE
        UPDATE projects p SET calls_count = p.calls_count - o.c
        FROM (SELECT project_id, COUNT(*) AS c FROM old_rows GROUP BY project_id) o
        WHERE p.id = o.project_id;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION callem_count_knowledge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE projects p SET knowledge_count = p.knowledge_count + n.c
        FROM (SELECT project_id, COUNT(*) AS c FROM new_rows GROUP BY project_id) n
        WHERE p.id = n.project_id;
    ELSE
        UPDATE projects p SET knowledge_count = p.knowledge_count - o.c
        FROM (SELECT project_id, COUNT(*) AS c FROM old_rows GROUP BY project_id) o
        WHERE p.id = o.project_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER calls_counted_on_insert AFTER INSERT ON calls
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION callem_count_calls();
CREATE TRIGGER calls_counted_on_delete AFTER DELETE ON calls
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION callem_count_calls();
CREATE TRIGGER knowledge_counted_on_insert AFTER INSERT ON knowledge_items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION callem_count_knowledge();
CREATE TRIGGER knowledge_counted_on_delete AFTER DELETE ON knowledge_items
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION callem_count_knowledge();

-- Deletes before this migration did not lower the knowledge total: count afresh.
UPDATE projects SET
    calls_count = (SELECT COUNT(*) FROM calls WHERE calls.project_id = projects.id),
    knowledge_count = (SELECT COUNT(*) FROM knowledge_items WHERE knowledge_items.project_id = projects.id);
