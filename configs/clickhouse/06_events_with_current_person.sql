-- events_with_current_person: every event with the person it belongs to
-- now, the query to use after merges.
--
-- An event is stamped with its person at processing time (events.person_id).
-- A later merge moves distinct_ids to the surviving person and writes a new
-- person_distinct_ids row for each, with a higher version; the event rows
-- are never rewritten. So the current person of an event is decided by the
-- latest row (highest version) of its (team, distinct_id) in
-- person_distinct_id_overrides, the rows with version > 0 (05): a version-0
-- row names the id's implicit person, which its events were stamped with
-- until a later row, so only the overrides change an answer.
--
--   no override      -> the stamped person_id (the id never changed person)
--   latest deleted   -> the id's implicit person (its person was deleted;
--                       resolver_implicit_person_id, 01_functions.sql)
--   otherwise        -> that row's person_id
--
-- This is the resolver's own lookup (unionfind.Find) once every row has
-- arrived; internal/warehouse implements the same rule in Go, over the
-- overrides only, and tests compare it with the resolver's lookup after a
-- generated stream with merges and after a story with deletions and a
-- split. Except in one case of docs/SEMANTICS.md §8: an id split out of
-- its own implicit person (which lives on with the other ids), whose new
-- person is then deleted, starts a fresh person, not its implicit one; no
-- row names that person, and this view answers the implicit one.
--
-- argMax over the rows, not FINAL, so the answer does not depend on whether
-- ReplacingMergeTree has merged the parts yet. The override's person_id is
-- made Nullable so that events without a row get NULL from the LEFT JOIN
-- (whatever join_use_nulls is) and coalesce falls back to the stamped id.
--
-- Columns: the event's, with person_id the current person, and
-- stamped_person_id the person at processing time. person_properties are
-- the properties at processing time; join resolver.persons on
-- (team, person_id) for the current ones.
--
-- Example: persons of team 2 with their event counts this month
--
--   SELECT person_id, count() FROM resolver.events_with_current_person
--   WHERE team = '2' AND timestamp >= toStartOfMonth(now())
--   GROUP BY person_id ORDER BY count() DESC LIMIT 10;
--
-- On large tables put the team filter inside a copy of this query on both
-- sides of the join: ClickHouse does not push it into the subquery.

CREATE VIEW IF NOT EXISTS resolver.events_with_current_person AS
SELECT
    e.uuid AS uuid,
    e.event AS event,
    e.distinct_id AS distinct_id,
    e.team AS team,
    e.timestamp AS timestamp,
    e.properties AS properties,
    coalesce(o.current_person_id, e.person_id) AS person_id,
    e.person_id AS stamped_person_id,
    e.person_created_at AS person_created_at,
    e.person_properties AS person_properties,
    e.person_mode AS person_mode,
    e.billing_class AS billing_class
FROM resolver.events AS e
LEFT JOIN
(
    SELECT
        team,
        distinct_id,
        toNullable(if(argMax(is_deleted, version) = 1,
                      resolver_implicit_person_id(team, distinct_id),
                      argMax(person_id, version))) AS current_person_id
    FROM resolver.person_distinct_id_overrides
    GROUP BY team, distinct_id
) AS o ON e.team = o.team AND e.distinct_id = o.distinct_id;
