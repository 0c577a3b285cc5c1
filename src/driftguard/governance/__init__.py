"""Risk and governance: the Model Risk Index, policy-gated deployments with four-eyes approval,
the CI gate and the simulation sandbox. Policies decide (``driftguard.rules``); this package
gathers the facts, stores every decision with its reasons and runs the workflow."""
