-- A plain gate may evaluate on the estate and host row this process cached,
-- and records its decision only if the host's estate_version is still the
-- one they were read at (db_plans.c, decision_insert_if_current). For that
-- the version must also change with every host field the forecast reads,
-- not only with the renewal interval (0002).
DROP TRIGGER kms_hosts_renewal_version ON kms_hosts;
DROP FUNCTION kg_bump_on_host_renewal();
CREATE FUNCTION kg_bump_on_host_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.estate_version = OLD.estate_version
     AND (NEW.name, NEW.family, NEW.threshold, NEW.capacity, NEW.margin,
          NEW.renewal_interval_minutes)
         IS DISTINCT FROM (OLD.name, OLD.family, OLD.threshold, OLD.capacity, OLD.margin,
                           OLD.renewal_interval_minutes) THEN
    NEW.estate_version := OLD.estate_version + 1;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER kms_hosts_version BEFORE UPDATE ON kms_hosts
  FOR EACH ROW EXECUTE FUNCTION kg_bump_on_host_change();
