"""The geo commands of :class:`~.api.CommandsMixin` (GEOADD, GEODIST, GEOPOS, GEORADIUS*,
GEOSEARCH*), one method each with redis-py's name, arguments and return shape.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from ..errors import DataError
from .args import (
    EncodableT,
    KeyT,
)
from .base import CommandsBase

__all__ = ["GeoCommands"]


_GEO_UNITS = ("m", "km", "mi", "ft")


def _check_unit(unit: Any, command: str) -> None:
    if unit is not None and str(unit).lower() not in _GEO_UNITS:
        raise DataError(f"{command} invalid unit {unit!r}")


class GeoCommands(CommandsBase):
    """Geo commands, one method each (redis-py's names, arguments and return shapes)."""

    def geoadd(self, name: KeyT, values: Any, nx: Any = False, xx: Any = False,
               ch: Any = False, *more: Any) -> Any:
        """Add ``(longitude, latitude, member)`` triples; how many were added (changed, ``ch``).

        Two forms: redis-py's ``geoadd(name, [lon, lat, member, ...], nx=, xx=, ch=)`` and
        redis-py 3.5's flat ``geoadd(name, lon, lat, member, ...)``. A ``values`` that is not a
        list or tuple (a number or a string: a longitude) means the flat form, where the
        positional slots after it are more triple parts, not flags.
        """
        if isinstance(values, (list, tuple)):
            if more:
                raise DataError(f"GEOADD takes its places as one list; got extra {more!r}")
            places: Sequence[Any] = values
        elif more or not isinstance(ch, bool):  # ch holds a fourth flat value
            places = (values, nx, xx, ch, *more)
            nx = xx = ch = False
        else:
            places = (values, nx, xx)
            nx = xx = False
        if nx and xx:
            raise DataError("GEOADD allows either 'nx' or 'xx', not both")
        if not places or len(places) % 3 != 0:
            raise DataError(f"GEOADD requires places with lon, lat and name values; got "
                            f"{len(places)} values")
        pieces: List[Any] = [name]
        if nx:
            pieces.append("NX")
        if xx:
            pieces.append("XX")
        if ch:
            pieces.append("CH")
        return self.execute_command("GEOADD", *pieces, *places)

    def geodist(self, name: KeyT, place1: EncodableT, place2: EncodableT,
                unit: Optional[str] = None) -> Any:
        """Distance between two members (float), or None."""
        _check_unit(unit, "GEODIST")
        pieces: List[Any] = [name, place1, place2]
        if unit:
            pieces.append(unit)
        return self.execute_command("GEODIST", *pieces)

    def geohash(self, name: KeyT, *values: EncodableT) -> Any:
        """Geohash strings (str) of members."""
        return self.execute_command("GEOHASH", name, *values)

    def geopos(self, name: KeyT, *values: EncodableT) -> Any:
        """``(longitude, latitude)`` of members (None where missing)."""
        return self.execute_command("GEOPOS", name, *values)

    def georadius(self, name: KeyT, longitude: float, latitude: float, radius: float,
                  unit: Optional[str] = None, withdist: bool = False, withcoord: bool = False,
                  withhash: bool = False, count: Optional[int] = None,
                  sort: Optional[str] = None, store: Optional[KeyT] = None,
                  store_dist: Optional[KeyT] = None, any: bool = False) -> Any:
        """Members within ``radius`` of a point (deprecated by GEOSEARCH)."""
        return self._georadius("GEORADIUS", name, [longitude, latitude], radius, unit,
                               withdist, withcoord, withhash, count, sort, store, store_dist,
                               any)

    def georadiusbymember(self, name: KeyT, member: EncodableT, radius: float,
                          unit: Optional[str] = None, withdist: bool = False,
                          withcoord: bool = False, withhash: bool = False,
                          count: Optional[int] = None, sort: Optional[str] = None,
                          store: Optional[KeyT] = None, store_dist: Optional[KeyT] = None,
                          any: bool = False) -> Any:
        """Members within ``radius`` of a member (deprecated by GEOSEARCH)."""
        return self._georadius("GEORADIUSBYMEMBER", name, [member], radius, unit, withdist,
                               withcoord, withhash, count, sort, store, store_dist, any)

    def _georadius(self, command: str, name: Any, center: List[Any], radius: float,
                   unit: Optional[str], withdist: bool, withcoord: bool, withhash: bool,
                   count: Optional[int], sort: Optional[str], store: Any, store_dist: Any,
                   any_: bool) -> Any:
        _check_unit(unit, command)
        pieces: List[Any] = [name, *center, radius, unit or "m"]
        for flag, word in ((withdist, "WITHDIST"), (withcoord, "WITHCOORD"),
                           (withhash, "WITHHASH")):
            if flag:
                pieces.append(word)
        if any_ and count is None:
            raise DataError("``any`` can't be provided without ``count``")
        if count is not None:
            pieces += ["COUNT", count]
            if any_:
                pieces.append("ANY")
        pieces += self._geo_sort(sort, command)
        if store is not None and store_dist is not None:
            raise DataError(f"{command} store and store_dist cant be set together")
        if store is not None:
            pieces += ["STORE", store]
        if store_dist is not None:
            pieces += ["STOREDIST", store_dist]
        return self.execute_command(command, *pieces, withdist=withdist, withcoord=withcoord,
                                    withhash=withhash, store=store, store_dist=store_dist)

    @staticmethod
    def _geo_sort(sort: Optional[str], command: str) -> List[str]:
        if sort is None:
            return []
        if sort.upper() not in ("ASC", "DESC"):
            raise DataError(f"{command} invalid sort {sort!r}")
        return [sort.upper()]

    def geosearch(self, name: KeyT, member: Optional[EncodableT] = None,
                  longitude: Optional[float] = None, latitude: Optional[float] = None,
                  unit: str = "m", radius: Optional[float] = None,
                  width: Optional[float] = None, height: Optional[float] = None,
                  sort: Optional[str] = None, count: Optional[int] = None, any: bool = False,
                  withcoord: bool = False, withdist: bool = False,
                  withhash: bool = False) -> Any:
        """Members in a circle or box around a member or point; ``[member, dist?, hash?,
        (lon, lat)?]`` items when any ``with*`` flag is set."""
        pieces = self._geosearch_pieces("GEOSEARCH", member, longitude, latitude, unit, radius,
                                        width, height, sort, count, any)
        for flag, word in ((withcoord, "WITHCOORD"), (withdist, "WITHDIST"),
                           (withhash, "WITHHASH")):
            if flag:
                pieces.append(word)
        return self.execute_command("GEOSEARCH", name, *pieces, withcoord=withcoord,
                                    withdist=withdist, withhash=withhash, store=None,
                                    store_dist=None)

    def geosearchstore(self, dest: KeyT, name: KeyT, member: Optional[EncodableT] = None,
                       longitude: Optional[float] = None, latitude: Optional[float] = None,
                       unit: str = "m", radius: Optional[float] = None,
                       width: Optional[float] = None, height: Optional[float] = None,
                       sort: Optional[str] = None, count: Optional[int] = None,
                       any: bool = False, storedist: bool = False) -> Any:
        """Store a GEOSEARCH result in ``dest`` (same slot); its size."""
        pieces = self._geosearch_pieces("GEOSEARCHSTORE", member, longitude, latitude, unit,
                                        radius, width, height, sort, count, any)
        if storedist:
            pieces.append("STOREDIST")
        return self.execute_command("GEOSEARCHSTORE", dest, name, *pieces)

    def _geosearch_pieces(self, command: str, member: Any, longitude: Any, latitude: Any,
                          unit: str, radius: Any, width: Any, height: Any, sort: Optional[str],
                          count: Optional[int], any_: bool) -> List[Any]:
        _check_unit(unit, command)
        pieces: List[Any] = []
        if member is not None:
            if longitude is not None or latitude is not None:
                raise DataError(f"{command} member and longitude or latitude cant be set "
                                "together")
            pieces += ["FROMMEMBER", member]
        elif longitude is not None and latitude is not None:
            pieces += ["FROMLONLAT", longitude, latitude]
        else:
            raise DataError(f"{command} must have member or longitude and latitude")
        if radius is not None:
            if width is not None or height is not None:
                raise DataError(f"{command} radius and width or height cant be set together")
            pieces += ["BYRADIUS", radius, unit]
        elif width is not None and height is not None:
            pieces += ["BYBOX", width, height, unit]
        else:
            raise DataError(f"{command} must have radius or width and height")
        pieces += self._geo_sort(sort, command)
        if any_ and count is None:
            raise DataError("``any`` can't be provided without ``count``")
        if count is not None:
            pieces += ["COUNT", count]
            if any_:
                pieces.append("ANY")
        return pieces
