-- 0002: where a replayed dead letter went. `auditq dlq replay` re-XADDs the raw fields to the
-- source stream and records the new entry's id here, next to replayed_at.
ALTER TABLE auditq_dead_letters ADD COLUMN replayed_as TEXT;
COMMENT ON COLUMN auditq_dead_letters.replayed_as IS 'auditq: the stream entry id the letter was replayed as (auditq dlq replay).';
CREATE INDEX idx_auditq_dead_letters_not_replayed ON auditq_dead_letters (id) WHERE replayed_at IS NULL;
