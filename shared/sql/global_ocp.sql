-- Hours each OpenShift payload covers per UTC day. When payloads overlap, the
-- summary of a day reads the payload with the most hours, and among equals the one
-- the operator created last (then the one recorded last).
CREATE TABLE IF NOT EXISTS costpipe.ocp_payload_days (
    manifest_id bigint NOT NULL REFERENCES costpipe.manifests (id) ON DELETE CASCADE,
    day date NOT NULL,
    hours integer NOT NULL CHECK (hours BETWEEN 0 AND 24),
    payload_created_at timestamptz NOT NULL,
    PRIMARY KEY (manifest_id, day)
);

CREATE INDEX IF NOT EXISTS ocp_payload_days_day ON costpipe.ocp_payload_days (day);
