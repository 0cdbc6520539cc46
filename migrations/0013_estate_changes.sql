-- Which rows each estate_version bump changed, so that a replica holding a
-- host's estate at version v can refresh it by the CMIDs and desktops that
-- changed since v instead of reloading all of it (estate_cache.c,
-- db_estate_delta.c). The rule of 0002/0010 stays the one rule: the same
-- statement-level triggers bump and now also log, for every host they bump.
--
-- Why versions order changes: a bump updates the host's kms_hosts row, whose
-- row lock the writer holds until it commits, so a host's versions are given
-- out in commit order. A reader whose snapshot shows version V therefore sees
-- every change with version <= V and none after.
--
-- Only CMID and desktop inserts and updates are logged. Every other bump
-- (pools, plans, pool hosts, the host row, a new host in the family, and
-- deletions) leaves its version without a row; a reader that finds fewer
-- rows than versions since v loads the whole estate, so an unlogged change
-- can never be missed, only cost a full load.
CREATE TABLE estate_changes (
  kms_host_id  bigint NOT NULL REFERENCES kms_hosts (id) ON DELETE CASCADE,
  version      bigint NOT NULL,      -- the estate_version this bump made
  cmids        uuid[] NOT NULL,      -- CMIDs written (any host's: a superset is fine)
  desktops     bigint[] NOT NULL,    -- desktop ids written
  PRIMARY KEY (kms_host_id, version)
);

-- How many versions of a host the log keeps: an estate further behind than
-- this reloads in full, which it also does when a minute old.
CREATE FUNCTION kg_estate_changes_kept() RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT 1000::bigint';

-- Bumps p_hosts and every host caching one of p_cmids (as
-- kg_bump_hosts_of_cmids of 0010) and logs the change for each of them; the
-- oldest entry beyond the kept window goes in the same statement.
CREATE FUNCTION kg_log_estate_change(p_hosts bigint[], p_cmids uuid[], p_desktops bigint[])
RETURNS void LANGUAGE sql AS $$
  WITH bumped AS (
    UPDATE kms_hosts SET estate_version = estate_version + 1
     WHERE id IN (SELECT unnest(p_hosts)
                  UNION SELECT c.kms_host_id FROM cmids c WHERE c.cmid = ANY (p_cmids))
    RETURNING id, estate_version),
  logged AS (
    INSERT INTO estate_changes (kms_host_id, version, cmids, desktops)
    SELECT id, estate_version, p_cmids, p_desktops FROM bumped)
  DELETE FROM estate_changes e USING bumped b
   WHERE e.kms_host_id = b.id AND e.version <= b.estate_version - kg_estate_changes_kept();
$$;

-- Desktops: inserts and updates are logged with the CMIDs they had and have
-- (a link moves which CMIDs the desktop carries); deletions stay unlogged.
CREATE OR REPLACE FUNCTION kg_bump_desktops() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM kg_log_estate_change(
      ARRAY(SELECT kms_host_id FROM changed UNION SELECT kms_host_id FROM changed_before),
      ARRAY(SELECT cmid FROM changed WHERE cmid IS NOT NULL
            UNION SELECT cmid FROM changed_before WHERE cmid IS NOT NULL),
      ARRAY(SELECT id FROM changed));
  ELSIF TG_OP = 'INSERT' THEN
    PERFORM kg_log_estate_change(ARRAY(SELECT DISTINCT kms_host_id FROM changed),
                                 ARRAY(SELECT DISTINCT cmid FROM changed WHERE cmid IS NOT NULL),
                                 ARRAY(SELECT id FROM changed));
  ELSE
    PERFORM kg_bump_hosts_of_cmids(ARRAY(SELECT DISTINCT kms_host_id FROM changed),
                                   ARRAY(SELECT DISTINCT cmid FROM changed WHERE cmid IS NOT NULL));
  END IF;
  RETURN NULL;
END $$;

-- CMIDs: inserts and updates logged; deletions (retention) stay unlogged.
CREATE OR REPLACE FUNCTION kg_bump_cmids() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM kg_bump_hosts_of_cmids(ARRAY(SELECT DISTINCT kms_host_id FROM changed),
                                   ARRAY(SELECT DISTINCT cmid FROM changed));
  ELSE
    PERFORM kg_log_estate_change(ARRAY(SELECT DISTINCT kms_host_id FROM changed),
                                 ARRAY(SELECT DISTINCT cmid FROM changed), '{}');
  END IF;
  RETURN NULL;
END $$;

-- A desktop written changes the registered-name flag (kms-model.md rule (b))
-- of the host's CMIDs whose last client has the desktop's first label; the
-- refresh finds those through this index instead of reading every CMID.
CREATE INDEX cmids_host_client_label ON cmids (kms_host_id, split_part(last_client, '.', 1));
