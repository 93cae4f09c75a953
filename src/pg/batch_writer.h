// Writes one sealed pipeline::Batch to PostgreSQL in one transaction: events by COPY, dead
// letters, tombstones, and the version-guarded session and participant upserts. Failures come
// back classified (never thrown), so the caller decides: retry, isolate, or alert.
// Not thread-safe: one writer per thread, each with its own connection.
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "pipeline/batch.h"
#include "pipeline/failure.h"

namespace auditq::pg {

struct WriteOutcome {
  bool committed = false;
  pipeline::FailureClass failure = pipeline::FailureClass::Transient; // when !committed
  std::string sqlstate;
  std::string message;
  // Some events were already in sync_events (a redelivery): the staged path skipped them.
  size_t duplicates = 0;
  // Wall-clock time (epoch microseconds) at which COMMIT returned.
  int64_t committed_at_us = 0;
  // How long the committed transaction took, BEGIN to COMMIT (microseconds).
  int64_t duration_us = 0;
};

// What a writer adds to every batch it commits.
struct WriterOptions {
  std::string chain = "auditq"; // its digest chain in auditq_batches ("<consumer>/<writer>")
  int64_t partition_width_ms = 86'400'000; // partitions.interval, for partitions made on demand
  bool digests = true;                     // audit.digests
  bool notify = false;                     // notify.enabled
  std::string notify_channel = "auditq_events";
};

class BatchWriter {
public:
  BatchWriter(const config::PostgresConfig& postgres, const config::ProjectionsConfig& projections,
              WriterOptions options = {});
  ~BatchWriter();
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Connects if not connected and checks the schema is there. Returns false with
  // `outcome` filled when the database cannot be reached or is not migrated.
  bool connect(WriteOutcome& outcome);

  // One transaction for the whole batch. On a connection failure the connection is dropped and
  // the next call reconnects. A commit whose outcome is unknown is reported as transient: the
  // retry is harmless because every write is idempotent.
  WriteOutcome write(const pipeline::Batch& batch);

  // Connects if needed and runs a trivial statement: is PostgreSQL there for us? (Idle
  // writers call it so that readiness follows the server even when nothing is written.)
  bool ping(WriteOutcome& outcome);

  bool connected() const;

private:
  // Entries outside every partition (far past or future, or a day not yet premade) get theirs
  // before the batch's transaction: a batch never fails for want of a partition.
  void ensurePartitions(const pipeline::Batch& batch);
  void loadCoverage();

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace auditq::pg
