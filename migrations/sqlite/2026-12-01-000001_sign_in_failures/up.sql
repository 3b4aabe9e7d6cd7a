-- Failed sign-ins per account (by email, known or not, so the answer tells nothing about
-- which emails exist); shared by every replica. A success deletes the row.
CREATE TABLE sign_in_failures (
    email TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure_at TIMESTAMP NOT NULL
);
CREATE INDEX sign_in_failures_last_failure_at ON sign_in_failures (last_failure_at);
