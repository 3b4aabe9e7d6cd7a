DROP TABLE key_usage_client_days;
ALTER TABLE audit_events DROP COLUMN detail;
ALTER TABLE api_keys DROP COLUMN leak_reported_at;
ALTER TABLE api_keys DROP COLUMN roll_baseline;
ALTER TABLE api_keys DROP COLUMN rolled_at;
ALTER TABLE api_keys DROP COLUMN replaced_by;
ALTER TABLE api_keys DROP COLUMN scope;
