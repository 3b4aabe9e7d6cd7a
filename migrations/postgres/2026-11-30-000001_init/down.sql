DROP TABLE audit_events;
DROP TABLE knowledge_items;
DROP TABLE calls;
DROP TABLE api_keys;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE projects;
DROP TABLE settings;
