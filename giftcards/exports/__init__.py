"""Exports: files of a tenant's cards, recipients or ledger rows, filtered as the list routes
filter, written by a worker (`work`) to the exports storage (`storage`) and downloaded through
an expiring signed link (`signing`). `services` creates, interrupts and deletes them;
`selection` says which rows an export reads and `writers` how a row is written, for the
worker, the commands and the admin alike."""
