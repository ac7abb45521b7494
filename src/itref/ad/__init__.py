"""Active Directory account lifecycle: connection, naming, plan → apply, offboarding, reports."""
