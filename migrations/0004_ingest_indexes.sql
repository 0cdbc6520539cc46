-- Ingest updates one cmids row per CMID of every batch. The forecast reads
-- all of a host's CMIDs through the primary key (kms_host_id, cmid), so the
-- index on last_request_at only cost a write per update and kept those
-- updates from being HOT; free space on each page lets them stay HOT.
DROP INDEX cmids_host_last;
ALTER TABLE cmids SET (fillfactor = 80);

-- Only the observation's modelled count read activation_requests by time, a
-- few times an hour per host; every ingested event paid for the index. That
-- count now scans the host's requests through the primary key.
DROP INDEX activation_requests_host_time;
