-- Several KMS hosts per product (kms-model.md section 6). Clients find hosts
-- through DNS SRV and renew with the one that answered; a pool may say which
-- hosts its new desktops find, with weights. A desktop's CMID counts on every
-- host of its family where it requested in the last 30 days and renews only on
-- the host of its newest request, so a host's estate also holds the desktops
-- of other hosts whose CMIDs it caches.

-- A discovering pool's hosts (none: the pool is pinned to pools.kms_host_id,
-- which stays its home host and the host its desktops are registered on).
CREATE TABLE pool_hosts (
  pool_id      bigint NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
  kms_host_id  bigint NOT NULL REFERENCES kms_hosts (id),
  weight       integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
  PRIMARY KEY (pool_id, kms_host_id)
);
CREATE INDEX pool_hosts_host ON pool_hosts (kms_host_id);

-- Estates and ingest look CMIDs and desktops up by value across hosts.
CREATE INDEX cmids_cmid ON cmids (cmid);
CREATE INDEX desktops_cmid ON desktops (cmid) WHERE cmid IS NOT NULL;
CREATE INDEX desktops_short_name ON desktops (short_name);

-- A write to one host's desktops, CMIDs or pools changes the estate of every
-- other host where the CMIDs involved are cached: those hosts' versions move
-- too (the rule of migration 0002, widened; still one bump per statement).
CREATE FUNCTION kg_bump_hosts_of_cmids(p_hosts bigint[], p_cmids uuid[]) RETURNS void
LANGUAGE sql AS $$
  UPDATE kms_hosts SET estate_version = estate_version + 1
   WHERE id IN (SELECT unnest(p_hosts)
                UNION SELECT c.kms_host_id FROM cmids c WHERE c.cmid = ANY (p_cmids));
$$;

CREATE FUNCTION kg_bump_desktops() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM kg_bump_hosts_of_cmids(
      ARRAY(SELECT kms_host_id FROM changed UNION SELECT kms_host_id FROM changed_before),
      ARRAY(SELECT cmid FROM changed WHERE cmid IS NOT NULL
            UNION SELECT cmid FROM changed_before WHERE cmid IS NOT NULL));
  ELSE
    PERFORM kg_bump_hosts_of_cmids(ARRAY(SELECT DISTINCT kms_host_id FROM changed),
                                   ARRAY(SELECT DISTINCT cmid FROM changed WHERE cmid IS NOT NULL));
  END IF;
  RETURN NULL;
END $$;

-- A CMID's newest request moving to another host decides where it renews.
CREATE FUNCTION kg_bump_cmids() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM kg_bump_hosts_of_cmids(ARRAY(SELECT DISTINCT kms_host_id FROM changed),
                                 ARRAY(SELECT DISTINCT cmid FROM changed));
  RETURN NULL;
END $$;

DROP TRIGGER desktops_version_ins ON desktops;
DROP TRIGGER desktops_version_upd ON desktops;
DROP TRIGGER desktops_version_del ON desktops;
CREATE TRIGGER desktops_version_ins AFTER INSERT ON desktops
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_desktops();
CREATE TRIGGER desktops_version_upd AFTER UPDATE ON desktops
  REFERENCING OLD TABLE AS changed_before NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_desktops();
CREATE TRIGGER desktops_version_del AFTER DELETE ON desktops
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_desktops();

DROP TRIGGER cmids_version_ins ON cmids;
DROP TRIGGER cmids_version_upd ON cmids;
DROP TRIGGER cmids_version_del ON cmids;
CREATE TRIGGER cmids_version_ins AFTER INSERT ON cmids
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_cmids();
CREATE TRIGGER cmids_version_upd AFTER UPDATE ON cmids
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_cmids();
CREATE TRIGGER cmids_version_del AFTER DELETE ON cmids
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_cmids();

-- A pool's hosts and their weights are read by the estates of those hosts.
CREATE TRIGGER pool_hosts_version_ins AFTER INSERT ON pool_hosts
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();
CREATE TRIGGER pool_hosts_version_upd AFTER UPDATE ON pool_hosts
  REFERENCING OLD TABLE AS changed_before NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version_both();
CREATE TRIGGER pool_hosts_version_del AFTER DELETE ON pool_hosts
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();

-- Every estate knows how many hosts its family has (a host alone in its family
-- touches no other): a new or removed host changes that for the others.
CREATE FUNCTION kg_bump_family() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE kms_hosts SET estate_version = estate_version + 1
   WHERE family = CASE WHEN TG_OP = 'DELETE' THEN OLD.family ELSE NEW.family END
   AND id <> CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
  RETURN NULL;
END $$;
CREATE TRIGGER kms_hosts_family_ins AFTER INSERT ON kms_hosts
  FOR EACH ROW EXECUTE FUNCTION kg_bump_family();
CREATE TRIGGER kms_hosts_family_del AFTER DELETE ON kms_hosts
  FOR EACH ROW EXECUTE FUNCTION kg_bump_family();
