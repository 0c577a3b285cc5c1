"""Alert webhooks: per-team endpoints, an outbox of deliveries, signed retried delivery."""
