"""The DriftGuard Python SDK: log predictions and labels from data frames, run monitoring.

from driftguard.client import Client
dg = Client()  # DRIFTGUARD_URL and DRIFTGUARD_API_KEY from the environment
dg.log_predictions("credit-pd", 3, df, id_col="id", timestamp_col="ts", prediction_col="label")
"""

from driftguard.client._client import Client, DriftGuardAPIError

__all__ = ["Client", "DriftGuardAPIError"]
