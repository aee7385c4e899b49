"""Shared request dependencies, as ``Annotated`` aliases the routes declare."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.schemas import ErrorResponse
from app.settings import Settings
from monitoring import MetricsRegistry
from processors.pipeline import Classifier


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_registry(request: Request) -> MetricsRegistry:
    return request.app.state.registry


def get_classifier(request: Request) -> Classifier:
    return request.app.state.classifier


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[MetricsRegistry, Depends(get_registry)]
ClassifierDep = Annotated[Classifier, Depends(get_classifier)]

_bearer = HTTPBearer(auto_error=False, description="LOGCLASS_ADMIN_TOKEN")


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Admin endpoints need ``Authorization: Bearer <LOGCLASS_ADMIN_TOKEN>``.

    With no token configured they are refused (403), never open.
    """
    if settings.admin_token is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "admin endpoints are disabled: set LOGCLASS_ADMIN_TOKEN to enable them",
        )
    expected = settings.admin_token.get_secret_value().encode()
    given = (credentials.credentials if credentials else "").encode()
    if not secrets.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong admin token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Annotated[None, Depends(require_admin)]


_api_bearer = HTTPBearer(auto_error=False, scheme_name="ApiToken", description="LOGCLASS_API_TOKEN")


def require_api_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_api_bearer)],
) -> None:
    """Classify and ingest need ``Authorization: Bearer <LOGCLASS_API_TOKEN>`` when it is set.

    Unset, they are open (the default: a sidecar on loopback). Compared in constant time.
    """
    if settings.api_token is None:
        return
    expected = settings.api_token.get_secret_value().encode()
    given = (credentials.credentials if credentials else "").encode()
    if not secrets.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


# for include_router(..., dependencies=[ApiTokenDep]) where a token is configured, so the
# OpenAPI schema says "bearer required" exactly when it is
ApiTokenDep = Depends(require_api_token)
API_TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or wrong LOGCLASS_API_TOKEN bearer"}
}
