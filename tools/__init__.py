"""The CRM system of record and the typed, permissioned tools the agents call."""
