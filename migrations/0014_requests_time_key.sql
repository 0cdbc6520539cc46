-- Numbered after 0013 (estate-version triggers, another branch); this one
-- touches only activation_requests.
-- Ingest paid for two B-trees per stored request: the primary key, led by the
-- CMID, so that every batch inserted all over an index larger than shared
-- buffers (bench ingest: up to ~230,000 blocks read and ~290,000 written
-- per 1,000,000 events), and the time index, used only by retention. With
-- the time right after the server, a batch's keys land next to each other
-- (logs arrive roughly in time order: ~3,000 read, ~75,000 written),
-- retention walks the key server by server (service/db_prune.c), and the
-- modelled count's 30-day window is a range of the key. The same columns, so
-- the same uniqueness: a re-sent event is still a duplicate.
ALTER TABLE activation_requests DROP CONSTRAINT activation_requests_pkey,
  ADD PRIMARY KEY (server, requested_at, cmid, client);
DROP INDEX activation_requests_time;
