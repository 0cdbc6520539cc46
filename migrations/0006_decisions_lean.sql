-- Every gate evaluation writes a decision row, so this insert is the gate's
-- hot path. Measured with pgbench and perf: per insert, PostgreSQL re-read
-- the CHECK constraints' expression trees from the catalog (ExecConstraints:
-- 15% of the insert), ran two foreign-key triggers (one locking the host row)
-- and parsed both documents as json. The audit row is history written only
-- by kmsgate, which encodes both documents and checks every value itself, so
-- it keeps what it needs and drops the rest:
--   * request/response: the exact text that was answered, stored as text;
--   * decision: an enum, checked by its input function instead of a CHECK;
--   * idempotency_key: varchar(255) instead of a CHECK on its length (the
--     handler rejects an empty key);
--   * kms_host_id (never read; the host's name is kept) and the foreign key
--     of plan_id: a deleted host's plans go with it, and its decisions keep
--     naming the plan they reserved.
CREATE TYPE gate_decision AS ENUM ('go', 'no-go');
ALTER TABLE decisions
  DROP CONSTRAINT decisions_decision_check,
  DROP CONSTRAINT decisions_idempotency_key_check,
  DROP CONSTRAINT decisions_plan_id_fkey,
  DROP COLUMN kms_host_id,
  ALTER COLUMN decision TYPE gate_decision USING decision::gate_decision,
  ALTER COLUMN idempotency_key TYPE varchar(255),
  ALTER COLUMN request TYPE text,
  ALTER COLUMN response TYPE text;
