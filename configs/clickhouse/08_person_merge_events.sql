-- person_merge_events: which events moved to which person because of one
-- lineage record of resolver.person_merges (07): every event of every
-- distinct_id the record moved, with the person the event was stamped with
-- and the record's persons. A parameterized view; name the record by its
-- team and identity_log coordinates:
--
--   SELECT uuid, distinct_id, stamped_person_id, survivor_person_id
--   FROM resolver.person_merge_events(team = '2', log_partition = 3, log_offset = 1042)
--
-- Known only the event that caused the merge (or a command's request id)?
-- Its coordinates first:
--
--   SELECT DISTINCT log_partition, log_offset, rule, refused
--   FROM resolver.person_merges WHERE team = '2' AND event_uuid = '…'
--
-- (an event uuid is the client's and need not be unique; log coordinates are.)
--
-- For a merge (rule identify, alias, merge_dangerously) or a split, the
-- moved ids belong to survivor_person_id from that record on. The rows are
-- every event of those ids, whenever it was processed: an event carries no
-- identity_log position, so the warehouse cannot tell which were stamped
-- before the record. Those were the ones it moved, stamped with
-- absorbed_person_id or a person the id had left before; an event stamped
-- with the survivor was usually processed after it, and one stamped with
-- a third person possibly after a later record moved the id on. Where each
-- event is now: resolver.events_with_current_person (06). For a deletion,
-- survivor_person_id is '' and the rows are the events of the deleted
-- person's ids. A refused record moved nothing and has no rows.
--
-- All parts of a record share its coordinates, so all its ids are here;
-- DISTINCT folds the copies of a row the Kafka engine may have stored
-- twice. An event whose copies events has not folded yet (03_events.sql:
-- ReplacingMergeTree, until its parts merge) appears once per copy.
-- The merge's side is filtered before the join and is at most one record's
-- ids; the events side is read for the team (events are ordered by team).

CREATE VIEW IF NOT EXISTS resolver.person_merge_events AS
SELECT
    m.team AS team,
    m.log_partition AS log_partition,
    m.log_offset AS log_offset,
    m.rule AS rule,
    m.survivor_person_id AS survivor_person_id,
    m.absorbed_person_id AS absorbed_person_id,
    e.distinct_id AS distinct_id,
    e.uuid AS uuid,
    e.event AS event,
    e.timestamp AS timestamp,
    e.person_id AS stamped_person_id
FROM resolver.events AS e
INNER JOIN
(
    SELECT DISTINCT
        team,
        log_partition,
        log_offset,
        rule,
        survivor_person_id,
        absorbed_person_id,
        arrayJoin(distinct_ids_moved) AS moved_distinct_id
    FROM resolver.person_merges
    WHERE team = {team:String}
      AND log_partition = {log_partition:Int32}
      AND log_offset = {log_offset:Int64}
) AS m ON e.team = m.team AND e.distinct_id = m.moved_distinct_id
WHERE e.team = {team:String}
ORDER BY timestamp, uuid;
