"""Task names: what the scheduler enqueues and workers register (importing nothing heavy, so the
scheduler process starts fast)."""

PLAN_WINDOWS = "driftguard.plan_windows"
RUN_WINDOW = "driftguard.run_window"
DELIVER_WEBHOOKS = "driftguard.deliver_webhooks"
MAINTENANCE = "driftguard.maintenance"
