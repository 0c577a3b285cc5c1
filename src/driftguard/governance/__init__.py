"""Risk and governance: stored policies (immutable, hashed versions and which one is in force),
alerts (a monitoring policy's findings), the Model Risk Index, policy-gated deployments with
four-eyes approval, the CI gate and the simulation sandbox. Policies decide
(``driftguard.rules``); this package gathers the facts, stores every decision with its reasons and
runs the workflow."""
