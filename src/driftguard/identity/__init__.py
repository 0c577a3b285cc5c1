"""Users, teams, memberships, roles, credentials (passwords, tokens, API keys)."""
