// Unit tests of the ledger rules; being written.
