"""Routes for large JSON bodies (:class:`FastJsonRoute`), read by pydantic-core.

A batch of 10,000 predictions is 6.6 MB of JSON. Parsed by ``json.loads`` (99 ms) into a tree of
about 400,000 Python objects and then validated, it cost the server's one interpreter twice as
much as pydantic-core validating the model straight from the bytes, which builds only the
model. A route whose body is one model is validated that way; a body that fails (and any other
body) is parsed by ``pydantic_core.from_json`` and validated by FastAPI as usual, after the
route's dependencies, so the errors keep FastAPI's form and order (a body that is not JSON is
``json_invalid``, a caller without the right is refused before the body's problems are told).

Before either, the body's shape is checked (:mod:`driftguard.api.json_shape`): a body with
too many values, too deep, or with more items in a list field than the model allows is refused
with 413 before anything is built from it, as a body over the byte limit is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import pydantic_core
from fastapi import HTTPException, Request, Response
from fastapi.params import Form
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from driftguard.api.json_shape import JsonShape, ShapeError


class _FastJsonRequest(Request):
    """Reads the body as JSON: with ``model``, validated straight from the bytes; FastAPI then
    takes the instance as it is (pydantic does not revalidate instances)."""

    def __init__(self, request: Request, model: type[BaseModel] | None, shape: JsonShape) -> None:
        super().__init__(request.scope, request.receive)
        self._model = model
        self._shape = shape

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = self._read(await self.body())
        return self._json

    def _read(self, body: bytes) -> Any:
        try:
            self._shape.check(body)
        except ShapeError as exc:
            # FastAPI passes an HTTPException raised while reading the body through unchanged.
            raise HTTPException(413, exc.message) from None
        if self._model is not None:
            try:
                return self._model.model_validate_json(body)
            except ValidationError:
                # Parsed below and validated by FastAPI after the route's dependencies, as
                # any body: the caller's rights are checked before the body's problems are told.
                pass
        try:
            return pydantic_core.from_json(body)
        except ValueError as exc:
            text = body.decode(errors="replace")
            raise json.JSONDecodeError(str(exc), text, 0) from None


def _body_model(route: APIRoute) -> type[BaseModel] | None:
    """The model of the route's one JSON body parameter, when it has exactly that."""
    field = route.body_field
    params = route.dependant.body_params
    if field is None or len(params) != 1 or field is not params[0]:
        return None  # no body, or several fields embedded in one object
    if isinstance(field.field_info, Form):
        return None
    annotation = field.field_info.annotation
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


class FastJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, given a request whose JSON body pydantic-core validates straight
        from its bytes."""
        handler = super().get_route_handler()
        model = _body_model(self)
        shape = JsonShape.of(model)

        async def route(request: Request) -> Response:
            return await handler(_FastJsonRequest(request, model, shape))

        return route
