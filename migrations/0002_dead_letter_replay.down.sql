-- 0002 down: forgets where replayed letters went (replayed_at stays).
DROP INDEX IF EXISTS idx_auditq_dead_letters_not_replayed;
ALTER TABLE auditq_dead_letters DROP COLUMN IF EXISTS replayed_as;
