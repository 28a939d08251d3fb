"""The haproxy configuration of `scripts/run --instances N` and the drill: rendered from the
template, accepted by the real haproxy, with the health checks and retries the drill relies on."""

from __future__ import annotations

from pathlib import Path

import pytest

from origin.devstack.haproxy import Timeouts, check, render


def test_the_rendered_configuration_is_valid_for_haproxy(tmp_path: Path) -> None:
    text = render(18000, [18001, 18002, 18003], timeouts=Timeouts(search=800))
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    check(config)
    for line in (
        "bind 127.0.0.1:18000", "server origin3 127.0.0.1:18003", "option httpchk GET /readyz",
        "retry-on conn-failure empty-response response-timeout", "option redispatch 1",
        "timeout server 800ms", "http-request disable-l7-retry if !METH_GET !METH_HEAD",
    ):  # fmt: skip
        assert line in text


def test_an_invalid_configuration_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(render(18000, [18001]).replace("balance leastconn", "balance nonsense"))
    with pytest.raises(ValueError, match="invalid haproxy configuration"):
        check(config)
    with pytest.raises(ValueError, match="backend"):
        render(18000, [])
