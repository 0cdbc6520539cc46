-- Numbered after main's 0010 and 0011 (issue 14), which this branch is rebased onto.
-- Ingest updates one cmids row per CMID per batch (last request, count, last
-- client), none of them indexed columns: room on each page lets those updates
-- be heap-only (no new primary-key entry, old versions pruned in place). With
-- full pages every renewal also inserted into cmids_pkey.
ALTER TABLE cmids SET (fillfactor = 80);
