"""Modelled street (街道) zones of Jiangbei: Voronoi cells of street-office seeds inside each district."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from siting.demo.common import CRS

__all__ = ["JIANGBEI_STREETS", "STREETS", "Street", "street_cells"]

PUKOU = "320111"
LUHE = "320116"


@dataclass(frozen=True)
class Street:
    """One street (街道) of Pukou or Luhe with an approximate office location used as a Voronoi seed.

    Attributes
    ----------
    code : str
        Short code used in ids (``"TS"`` for Taishan ...).
    name : str
        English name.
    name_zh : str
        Chinese name.
    district : str
        Adcode of the district holding the street (``"320111"`` Pukou, ``"320116"`` Luhe).
    lon, lat : float
        Approximate location of the street's centre (WGS84 degrees), accurate to about 1 km.
    member : bool
        True for the 7 streets directly managed by Jiangbei New Area.
    """

    code: str
    name: str
    name_zh: str
    district: str
    lon: float
    lat: float
    member: bool


#: Seeds of the streets. Member streets are the 7 directly managed streets; the others only stop the
#: member cells from reaching into their neighbours (Jiangpu's new town, Luhe's old town ...).
STREETS: tuple[Street, ...] = (
    Street("TS", "Taishan", "泰山", PUKOU, 118.722, 32.124, True),
    Street("DS", "Dingshan", "顶山", PUKOU, 118.685, 32.100, True),
    Street("YJ", "Yanjiang", "沿江", PUKOU, 118.735, 32.156, True),
    Street("PC", "Pancheng", "盘城", PUKOU, 118.695, 32.182, True),
    Street("DC", "Dachang", "大厂", LUHE, 118.760, 32.226, True),
    Street("GT", "Getang", "葛塘", LUHE, 118.725, 32.256, True),
    Street("CL", "Changlu", "长芦", LUHE, 118.805, 32.262, True),
    Street("JP", "Jiangpu", "江浦", PUKOU, 118.628, 32.062, False),
    Street("QL", "Qiaolin", "桥林", PUKOU, 118.530, 31.960, False),
    Street("TQ", "Tangquan", "汤泉", PUKOU, 118.500, 32.060, False),
    Street("XD", "Xingdian", "星甸", PUKOU, 118.540, 32.130, False),
    Street("YN", "Yongning", "永宁", PUKOU, 118.640, 32.200, False),
    Street("XZ", "Xiongzhou", "雄州", LUHE, 118.835, 32.335, False),
    Street("LC", "Longchi", "龙池", LUHE, 118.790, 32.322, False),
    Street("LP", "Longpao", "龙袍", LUHE, 118.950, 32.270, False),
    Street("MA", "Ma'an", "马鞍", LUHE, 118.700, 32.380, False),
)

#: The 7 member streets, in the order above.
JIANGBEI_STREETS: tuple[Street, ...] = tuple(s for s in STREETS if s.member)


def street_cells(districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cut each district into the Voronoi cells of its street seeds.

    Parameters
    ----------
    districts : GeoDataFrame
        District polygons with an ``id`` column holding the adcode (any CRS); Pukou and Luhe at least.

    Returns
    -------
    GeoDataFrame
        One row per street (``code``, ``name``, ``name_zh``, ``district``, ``member``), in EPSG:32650.
    """
    d = districts.to_crs(CRS)
    to_utm = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    rows = []
    for adcode in (PUKOU, LUHE):
        poly = shapely.union_all(d.loc[d["id"].astype(str) == adcode].geometry.to_numpy())
        seeds = [s for s in STREETS if s.district == adcode]
        xy = np.array([to_utm.transform(s.lon, s.lat) for s in seeds])
        cells = shapely.get_parts(
            shapely.voronoi_polygons(
                shapely.multipoints(xy), extend_to=shapely.box(*poly.buffer(5000).bounds)
            )
        )
        for s, (x, y) in zip(seeds, xy, strict=True):
            cell = next(c for c in cells if c.contains(shapely.Point(x, y)))
            rows.append(
                {
                    "code": s.code,
                    "name": s.name,
                    "name_zh": s.name_zh,
                    "district": adcode,
                    "member": s.member,
                    "geometry": shapely.intersection(cell, poly),
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
