DROP TABLE usage_flush_batches;
