-- A per-host version of everything the forecast reads (pools, desktops, the
-- per-CMID summary, reserved plans). Service processes keep a host's loaded
-- estate in memory and reuse it only while this number is unchanged, so the
-- database stays the single source of truth for every replica: a write on any
-- replica changes the version in the same transaction as the data.

ALTER TABLE kms_hosts ADD COLUMN estate_version bigint NOT NULL DEFAULT 0;

-- Statement-level triggers: one bump per statement, however many rows it
-- touched (an ingest of 10,000 events bumps once).
CREATE FUNCTION kg_bump_estate_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE kms_hosts SET estate_version = estate_version + 1
   WHERE id IN (SELECT DISTINCT kms_host_id FROM changed);
  RETURN NULL;
END $$;

-- Updates may move a row between hosts (a pool patched to another host):
-- both hosts change.
CREATE FUNCTION kg_bump_estate_version_both() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE kms_hosts SET estate_version = estate_version + 1
   WHERE id IN (SELECT kms_host_id FROM changed UNION SELECT kms_host_id FROM changed_before);
  RETURN NULL;
END $$;

CREATE TRIGGER desktops_version_ins AFTER INSERT ON desktops
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();
CREATE TRIGGER desktops_version_upd AFTER UPDATE ON desktops
  REFERENCING OLD TABLE AS changed_before NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version_both();
CREATE TRIGGER desktops_version_del AFTER DELETE ON desktops
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();

CREATE TRIGGER pools_version_ins AFTER INSERT ON pools
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();
CREATE TRIGGER pools_version_upd AFTER UPDATE ON pools
  REFERENCING OLD TABLE AS changed_before NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version_both();
CREATE TRIGGER pools_version_del AFTER DELETE ON pools
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();

CREATE TRIGGER cmids_version_ins AFTER INSERT ON cmids
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();
CREATE TRIGGER cmids_version_upd AFTER UPDATE ON cmids
  REFERENCING OLD TABLE AS changed_before NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version_both();
CREATE TRIGGER cmids_version_del AFTER DELETE ON cmids
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();

-- Plan rows carry their desktops and provisions, which are inserted in the
-- same statement as the plan; state changes (commit, release) are updates.
CREATE TRIGGER plans_version_ins AFTER INSERT ON plans
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();
CREATE TRIGGER plans_version_upd AFTER UPDATE ON plans
  REFERENCING OLD TABLE AS changed_before NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version_both();
CREATE TRIGGER plans_version_del AFTER DELETE ON plans
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();

-- The host's own renewal interval is the default of its pools' intervals.
CREATE FUNCTION kg_bump_on_host_renewal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.renewal_interval_minutes IS DISTINCT FROM OLD.renewal_interval_minutes THEN
    NEW.estate_version := OLD.estate_version + 1;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER kms_hosts_renewal_version BEFORE UPDATE ON kms_hosts
  FOR EACH ROW EXECUTE FUNCTION kg_bump_on_host_renewal();
