"""The Ray engine: the same config, stages and rules as `curation run`, on a Ray cluster.

Row-local stages run as Ray Data `map_batches` over Arrow batches; the stages that compare rows run, the
same classes, on partitions Ray's own hash shuffle makes (see compare.py for why each partition key is
safe); every output is sharded parquet and the ledger is checked with counts and keyed anti-joins.
"""
