"""widget.geoip_db: a configured GeoLite2 file must open at start, and names a city."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.widget.presence import CityLookup
from bridge.config import ConfigError, load_config
from tests.mmdb_file import write_city_db


def test_a_missing_or_wrong_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    """A path to nothing, or to a file that is no MaxMind DB, fails at load, naming it."""
    with pytest.raises(ConfigError, match=r"widget\.geoip_db: no file at"):
        load_config(env={}, widget={"geoip_db": str(tmp_path / "nope.mmdb")})
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database" * 10)
    with pytest.raises(ConfigError, match=r"widget\.geoip_db: .* is not a MaxMind DB file"):
        load_config(env={}, widget={"geoip_db": str(junk)})


def test_a_city_from_the_librarys_file(tmp_path: Path) -> None:
    """The file loads, and an address in it reads as "City, CC"; others read as ""."""
    db = write_city_db(tmp_path / "city.mmdb", {
        "203.0.113.0/24": {"city": {"names": {"en": "Bandung"}}, "country": {"iso_code": "ID"}},
        "198.51.100.0/24": {"country": {"iso_code": "ID"}}})
    assert load_config(env={}, widget={"geoip_db": str(db)}).widget.geoip_db == str(db)
    cities = CityLookup(db)
    assert cities.city("203.0.113.9") == "Bandung, ID"
    assert cities.city("198.51.100.1") == "ID"
    assert cities.city("192.0.2.1") == "" and cities.city("not an ip") == ""
    cities.close()
