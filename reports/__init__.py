"""Reports a data steward reads: the run summary now; the full curation report and audits later."""
