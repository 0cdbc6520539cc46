-- A reserved plan holds every KMS host it touches (kms-model.md section 6):
-- the other hosts' estates include it, and its commit, release or expiry
-- changes them too.
CREATE TABLE plan_hosts (
  plan_id      uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
  kms_host_id  bigint NOT NULL REFERENCES kms_hosts (id) ON DELETE CASCADE,
  PRIMARY KEY (plan_id, kms_host_id)
);
CREATE INDEX plan_hosts_host ON plan_hosts (kms_host_id);

CREATE TRIGGER plan_hosts_version_ins AFTER INSERT ON plan_hosts
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_estate_version();

-- A plan's state change bumps its own host (0002) and every other host it holds.
CREATE FUNCTION kg_bump_plan_hosts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE kms_hosts SET estate_version = estate_version + 1
   WHERE id IN (SELECT x.kms_host_id FROM plan_hosts x WHERE x.plan_id IN (SELECT id FROM changed));
  RETURN NULL;
END $$;
CREATE TRIGGER plans_hosts_version_upd AFTER UPDATE ON plans
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kg_bump_plan_hosts();
