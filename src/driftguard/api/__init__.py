"""The HTTP API: parses requests, calls services, renders responses. No SQL here."""
