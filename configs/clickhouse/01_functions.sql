-- resolver_implicit_person_id(team, distinct_id): the id of the implicit
-- person of a distinct_id that no person claims (docs/SEMANTICS.md §3),
--
--   UUIDv5(namespace 932979b4-65c3-4424-8467-0b66ec27bc22, "<team>:<distinct_id>")
--
-- the same id as unionfind.ImplicitPersonID. The view in
-- 06_events_with_current_person.sql needs it for a distinct_id whose latest
-- row is deleted: its person was deleted, and the id belongs to its implicit
-- person again.
--
-- UUIDv5 (RFC 9562 §5.5) is the first 16 bytes of SHA-1(namespace || name)
-- with the version nibble set to 5 and the variant bits to 10. On the digest
-- in lower-case hex h (40 digits): digits 1-8, 9-12, then '5' in place of
-- digit 13 followed by 14-16, then digit 17 with its top two bits set to 10
-- (one of 8, 9, a, b) followed by 18-20, then 21-32. internal/warehouse evaluates
-- these two functions with a Go model of the ClickHouse functions they use
-- and compares the result with unionfind.ImplicitPersonID.
--
-- SQL user-defined functions are global (not per database), hence the
-- resolver_ prefix.

CREATE FUNCTION IF NOT EXISTS resolver_uuid5_from_sha1_hex AS (h) -> toUUID(concat(
    substring(h, 1, 8), '-',
    substring(h, 9, 4), '-',
    '5', substring(h, 14, 3), '-',
    substring('89ab', (position('0123456789abcdef', substring(h, 17, 1)) - 1) % 4 + 1, 1), substring(h, 18, 3), '-',
    substring(h, 21, 12)
));

CREATE FUNCTION IF NOT EXISTS resolver_implicit_person_id AS (t, d) -> resolver_uuid5_from_sha1_hex(
    lower(hex(SHA1(concat(UUIDStringToNum('932979b4-65c3-4424-8467-0b66ec27bc22'), t, ':', d))))
);
