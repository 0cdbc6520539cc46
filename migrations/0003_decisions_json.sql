-- Every gate evaluation writes a decision row; the audit trail is read back
-- whole, never queried inside. json (checked text) costs far less to insert
-- than jsonb (parsed and rebuilt), and the gate is the service's hot path.
ALTER TABLE decisions ALTER COLUMN request TYPE json USING request::json,
                      ALTER COLUMN response TYPE json USING response::json;
