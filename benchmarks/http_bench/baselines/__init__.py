"""Hand-written baselines: plain Django views over `.values()` queries, serving the same
documents (and, for the debit, the same ledger guarantees) as the service's endpoints."""
