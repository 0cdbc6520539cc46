-- Rule (b) of kms-model.md section 3 asks whether a CMID's latest client is a
-- registered desktop, and section 6 links a desktop to its CMID by client name
-- over every host of the family: a desktop registered on kms-e whose old CMID
-- was last requested on kms-a has replaced that CMID on kms-a too. The estate
-- of a host therefore reads desktops of its whole family (db_estate_sql.h),
-- so a desktop written must bump and log every host of its family, not only
-- its own and those caching its CMIDs: else kms-a's cached estate would keep
-- counting the replaced CMID as renewing until its next full load.
CREATE OR REPLACE FUNCTION kg_family_hosts_of(p_hosts bigint[]) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
  SELECT ARRAY(SELECT x.id FROM kms_hosts x JOIN kms_hosts h ON x.family = h.family
               WHERE h.id = ANY (p_hosts) UNION SELECT unnest(p_hosts));
$$;

CREATE OR REPLACE FUNCTION kg_bump_desktops() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM kg_log_estate_change(
      kg_family_hosts_of(ARRAY(SELECT kms_host_id FROM changed
                               UNION SELECT kms_host_id FROM changed_before)),
      ARRAY(SELECT cmid FROM changed WHERE cmid IS NOT NULL
            UNION SELECT cmid FROM changed_before WHERE cmid IS NOT NULL),
      ARRAY(SELECT id FROM changed));
  ELSIF TG_OP = 'INSERT' THEN
    PERFORM kg_log_estate_change(
      kg_family_hosts_of(ARRAY(SELECT DISTINCT kms_host_id FROM changed)),
      ARRAY(SELECT DISTINCT cmid FROM changed WHERE cmid IS NOT NULL),
      ARRAY(SELECT id FROM changed));
  ELSE
    PERFORM kg_bump_hosts_of_cmids(
      kg_family_hosts_of(ARRAY(SELECT DISTINCT kms_host_id FROM changed)),
      ARRAY(SELECT DISTINCT cmid FROM changed WHERE cmid IS NOT NULL));
  END IF;
  RETURN NULL;
END $$;
