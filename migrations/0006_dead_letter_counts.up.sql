-- 0006: a delivery count is a 64-bit number in Redis (XCLAIM ... RETRYCOUNT can set any): a
-- dead letter must be storable whatever it is. Rewrites auditq_dead_letters, which is small.
ALTER TABLE auditq_dead_letters ALTER COLUMN delivery_count TYPE BIGINT;
COMMENT ON COLUMN auditq_dead_letters.fields IS 'The entry''s raw field/value pairs in order, as [[name, value], ...]; bytes that are not UTF-8 are kept as {"base64": ...}; a name or value longer than dead_letter.max_field_bytes as {"cut": ..., "length": N, "sha256_of_rest": ...}; fields past 16 times that as a last {"omitted_fields": n, "bytes": m, "sha256": ...}.';
