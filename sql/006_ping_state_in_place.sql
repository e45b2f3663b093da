-- The monitor rewrites each machine's ping_state row as checks come back (healthy machines every
-- 5 s, in batches): at 10,000 machines, a thousand rows a second. next_check_at changes in every
-- one of those writes and was indexed, so none could be a HOT update (the new version written on
-- the same page, no index touched): each wrote both indexes and left dead index entries behind.
-- The index served no query (the schedule is kept in memory; a start reads every row). Measured
-- in the re-registration bench: 2 HOT updates of 28,420 before.
DROP INDEX IF EXISTS ping_state_next_check_idx;

-- Room on each page for a row's next version, so that the update can stay on its page. Applies
-- to pages written from now on; the rows already stored move to such pages as they are updated.
ALTER TABLE ping_state SET (fillfactor = 70);
