"""The commission wallet: ledger (every balance change) and its verification."""
