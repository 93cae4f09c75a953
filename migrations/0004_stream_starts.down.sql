-- 0004 down: the recorded group starts go (a lost group is then re-created at the newest
-- committed entry id, or at consumer.start_id for a stream with none).
DROP TABLE auditq_stream_starts;
