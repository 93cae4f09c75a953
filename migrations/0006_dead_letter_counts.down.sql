-- 0006 down: back to INTEGER counts; a count beyond it is clamped to the INTEGER maximum.
ALTER TABLE auditq_dead_letters ALTER COLUMN delivery_count TYPE INTEGER
    USING least(delivery_count, 2147483647)::integer;
COMMENT ON COLUMN auditq_dead_letters.fields IS 'The entry''s raw field/value pairs in order, as [[name, value], ...]; bytes that are not UTF-8 are kept as {"base64": ...}.';
