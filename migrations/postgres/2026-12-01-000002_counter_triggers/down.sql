DROP TRIGGER calls_counted_on_insert ON calls;
DROP TRIGGER calls_counted_on_delete ON calls;
DROP TRIGGER knowledge_counted_on_insert ON knowledge_items;
DROP TRIGGER knowledge_counted_on_delete ON knowledge_items;
DROP FUNCTION callem_count_calls();
DROP FUNCTION callem_count_knowledge();
