"""The offline backend: moto in-process, fake credentials, nothing leaves the machine.

Introduced in lab 00. While an offline lab is open, the process environment is pointed
away from the user's real AWS configuration: fake keys, an empty config and credentials
file, no profile, no custom endpoints. The previous values are restored at close.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import threading
from typing import Any

OFFLINE_ACCOUNT_ID = "123456789012"

#: Variables that could make botocore read real credentials or send requests elsewhere.
_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE",
    "AWS_SECURITY_TOKEN",
)

_lock = threading.Lock()
_depth = 0
_saved: dict[str, str | None] = {}
_mock: Any = None
_plugins_loaded = False


def _isolate_environment(region: str) -> None:
    fake = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "MOTO_ALLOW_NONEXISTENT_REGION": "false",
    }
    names = set(fake) | set(_CLEARED) | {k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")}
    for name in names:
        _saved[name] = os.environ.get(name)
    for name in names - set(fake):
        os.environ.pop(name, None)
    os.environ.update(fake)


def _restore_environment() -> None:
    for name, value in _saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _saved.clear()


def load_plugins() -> None:
    """Import every module under :mod:`mllab.offline` so their handlers register (once)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    import mllab.offline as pkg

    for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
    _plugins_loaded = True


def start(region: str) -> None:
    """Start moto and isolate the environment (nested starts share one mock).

    Args:
        region: the region the fake credentials and default client region use.
    """
    global _depth, _mock
    with _lock:
        if _depth == 0:
            _isolate_environment(region)
            from moto import mock_aws

            _mock = mock_aws()
            _mock.start()
        _depth += 1
        first = _depth == 1
    load_plugins()
    if first:
        from mllab.offline.registry import run_open_hooks

        run_open_hooks()


def stop() -> None:
    """Stop moto after the last offline lab closes; its in-memory AWS state is dropped."""
    global _depth, _mock
    with _lock:
        if _depth == 0:
            return
        _depth -= 1
        if _depth == 0:
            from mllab.offline.registry import run_reset_hooks

            run_reset_hooks()
            if _mock is not None:
                _mock.stop()
                _mock = None
            _restore_environment()


def is_running() -> bool:
    """True while an offline lab holds moto."""
    return _depth > 0
