-- Keep 256 versions of each host's change log instead of 1,000 (0013). A row
-- of an upload holds its CMIDs (16 bytes each, up to 10,000 per batch), so
-- 1,000 large uploads kept 160 MB per host. A replica refreshes a host's
-- estate whenever it reads it, so it falls further behind only after 256
-- writes to the host with no read of it in between; then it reads the estate
-- in full, which costs time, never correctness.
CREATE OR REPLACE FUNCTION kg_estate_changes_kept() RETURNS bigint LANGUAGE sql IMMUTABLE
  AS 'SELECT 256::bigint';
