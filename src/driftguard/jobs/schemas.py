from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class DeadLetterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: str
    task_name: str
    arguments: list[object]
    error: str
    attempts: int
    failed_at: datetime
