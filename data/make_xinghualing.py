#!/usr/bin/env python3
"""Generate the embedded synthetic dataset for Xinghualing district (杏花岭区), Taiyuan.

    python data/make_xinghualing.py [OUT_DIR]      # default: data/xinghualing/

Headline figures come from 《太原市杏花岭区“十四五”教育事业发展规划》 (杏政发〔2022〕17号,
/work/shared/seeds/000_3bf94dc3a89a6442.txt); everything else (zones, positions, per-school
sizes, births, applicants) is synthetic and drawn here. See data/xinghualing/README.md.

Determinism: pure standard library; the only randomness source is
``random.Random(seed).random()`` (whose output for an int seed is stable across Python
versions). All integer draws, weighted choices, shuffles and normals are built on top of it
here; every float written is formatted with fixed decimals. Running twice, on any machine
with Python >= 3.11, gives byte-identical files.
"""

from __future__ import annotations

import csv
import datetime
import math
import random
import sys
from pathlib import Path

SEED = 20201231  # the plan's figures are "至2020年底" (as at end of 2020)

# --------------------------------------------------------------------------------------
# Figures from the plan (quoted phrase in the comment). Tests assert these exactly.
# --------------------------------------------------------------------------------------
KG_COUNT = 100  # "全区在册幼儿园100所"
KG_TEACHERS = 1696  # "专任教师1696人"
KG_CHILDREN = 16760  # "在园幼儿16760人"
KG_INCLUSIVE_COUNT = 92  # "普惠性幼儿园占全区幼儿园92.1%"
KG_PUBLIC_CHILDREN = 7995  # "公办园在园幼儿占比达47.7%"  (7995 / 16760 = 47.70%)
KG_GROSS_RATE_2020 = 98.91  # 专栏一 "学前教育毛入园率(%) 2020年 98.91"
POP_3_5_IN_2020 = 16945  # births 2015..2017 so that 16760 / 16945 = 98.91 %

PRIMARY_PUBLIC_URBAN = 38  # "公办小学包括城区小学38所"
PRIMARY_PUBLIC_RURAL = 11  # "街乡联校3所(共有农村小学11所)"
PRIMARY_PRIVATE = 2  # "包括49所公办小学和2所民办小学"
PRIMARY_PUPILS = 48550  # "其中小学生48550人"
JUNIOR_URBAN = 10  # "初级中学13所,包括城区初中10所"
JUNIOR_RURAL = 3  # "农村初中3所"
JUNIOR_PUPILS = 3853  # "初中生3853人"
SPECIAL_PUPILS = 230  # 特殊教育学校 "在校生230人"
SPECIAL_TEACHERS = 33  # 特殊教育学校 "专任教师33人"
SCHOOL_TEACHERS = 2991  # "全区各级各类学校专任教师2991名" (read here as primary+junior+special)

EDUCATION_GROUPS = 6  # "全区形成6个教育集团"
GROUP_BRANCHES = 9  # "(设9所分校、校区)"
SCHOOL_COMMUNITIES = 10  # "形成杏花岭区一中学区等10个学校发展共同体"
KG_COMMUNITIES = 21  # "杏花岭区西羊市幼儿园园区等21个幼教发展共同体"

# --------------------------------------------------------------------------------------
# Synthetic choices (not in the plan)
# --------------------------------------------------------------------------------------
KG_INCLUSIVE_PRIVATE_CHILDREN = 7415  # so inclusive = 15,410 = 91.9 % ("在园幼儿占比达90%以上")
KG_PUBLIC_COUNT = 40  # of the 92 inclusive kindergartens
CLASS_CAP = {"kindergarten": 30, "primary": 45, "junior": 50, "special": 12}  # 班额
TYPICAL_CLASS = {
    "kindergarten": (25, 29),
    "primary": (38, 44),
    "junior": (40, 48),
    "special": (10, 11),
}
PUPILS_PER_TEACHER = {"primary": 18.5, "junior": 12.5}
SPECIAL_SEATS = 40
KG_APPLICANTS_2021 = 5600
PRIMARY_APPLICANTS_2021 = 8100
YEARS = list(range(2010, 2021))
# births relative to the 2016 peak (全面二孩 from 2016), falling 2018-2020
BIRTH_SHAPE = {
    2010: 0.80,
    2011: 0.83,
    2012: 0.90,
    2013: 0.86,
    2014: 0.92,
    2015: 0.89,
    2016: 1.00,
    2017: 1.02,
    2018: 0.85,
    2019: 0.78,
    2020: 0.745,
}
CATEGORY_P = [("A", 0.60), ("B", 0.20), ("C", 0.20)]  # A 户籍+房产, B 户籍, C 居住证/随迁
MIGRANT_P = {"A": 0.0, "B": 0.03, "C": 0.90}
N_CHOICES_P = [(0, 0.01), (1, 0.30), (2, 0.28), (3, 0.41)]
KG_MAX_CHOICES = 1  # a child registers at one public kindergarten (max_choices = 1)
PRIMARY_MAX_CHOICES = 3
SIBLING_P = 0.06
FEMALE_P = 0.48
SPECIAL_NEEDS_P = 0.015
OWN_ZONE_BONUS = 2.5  # catchment pull in the choice model
DIST_SCALE_KM = 1.5  # distance decay 1 / (1 + (d / DIST_SCALE_KM)^2)
PRIVATE_PULL = 0.35
# first-choice demand / entry seats targeted for the popular schools
HOT_TARGETS = {
    "kindergarten": {
        "西羊市幼儿园": 3.5,
        "杏花岭区第一幼儿园": 2.8,
        "杏花岭区第二幼儿园": 2.3,
        "杏花岭区第五幼儿园": 2.0,
    },
    "primary": {
        "新道街小学": 3.3,
        "东华门小学": 2.7,
        "杏花岭小学": 2.3,
        "胜利街小学": 2.0,
        "后沟小学": 1.8,
    },
}

# --------------------------------------------------------------------------------------
# Zones: 10 streets (街道) and 3 townships (乡). x east, y north, km; synthetic layout.
# --------------------------------------------------------------------------------------
ZONES = [  # zone_id, name, kind, x_km, y_km, population (synthetic, total 650,000)
    ("Z01", "鼓楼街道", "street", 1.2, 1.0, 52000),
    ("Z02", "杏花岭街道", "street", 2.6, 1.8, 61000),
    ("Z03", "大东关街道", "street", 4.0, 1.2, 63000),
    ("Z04", "坝陵桥街道", "street", 1.5, 3.0, 57000),
    ("Z05", "敦化坊街道", "street", 3.2, 3.4, 58000),
    ("Z06", "职工新街街道", "street", 4.6, 2.8, 69000),
    ("Z07", "三桥街道", "street", 1.0, 5.0, 54000),
    ("Z08", "巨轮街道", "street", 2.6, 5.4, 60000),
    ("Z09", "涧河街道", "street", 3.2, 7.2, 73000),
    ("Z10", "杨家峪街道", "street", 5.8, 4.4, 60000),
    ("Z11", "中涧河乡", "township", 5.8, 9.5, 20000),
    ("Z12", "小返乡", "township", 9.0, 12.5, 12000),
    ("Z13", "柏板乡", "township", 10.0, 7.0, 11000),
]
SCHOOL_RADIUS_KM = {"street": 1.2, "township": 2.5}

# Primary schools: (name, zone, kind, size weight). kind: public | private | rural.
PRIMARY = [
    ("新道街小学", "Z01", "public", 2.0),
    ("东华门小学", "Z01", "public", 1.8),
    ("鼓楼小学", "Z01", "public", 1.0),
    ("柳巷小学", "Z01", "public", 0.8),
    ("杏花岭小学", "Z02", "public", 1.7),
    ("府东街小学", "Z02", "public", 1.0),
    ("精营东边街小学", "Z02", "public", 0.8),
    ("察院后小学", "Z02", "public", 0.9),
    ("大东关小学", "Z03", "public", 1.2),
    ("小东门小学", "Z03", "public", 1.0),
    ("东岗路小学", "Z03", "public", 1.1),
    ("桥头街小学", "Z03", "public", 0.9),
    ("坝陵桥小学", "Z04", "public", 1.2),
    ("胜利街小学", "Z04", "public", 1.5),
    ("北大街小学", "Z04", "public", 0.9),
    ("新民北街小学", "Z04", "public", 0.9),
    ("敦化坊小学", "Z05", "public", 1.1),
    ("享堂小学", "Z05", "public", 1.0),
    ("东华门小学敦化坊分校", "Z05", "public", 1.0),
    ("新建路小学", "Z05", "public", 1.0),
    ("博雅实验小学", "Z05", "private", 0.7),
    ("职工新街小学", "Z06", "public", 1.2),
    ("后沟小学", "Z06", "public", 1.4),
    ("杏花岭小学职工新街分校", "Z06", "public", 1.0),
    ("北固碾小学", "Z06", "public", 1.0),
    ("三桥小学", "Z07", "public", 1.1),
    ("胜利街小学三桥分校", "Z07", "public", 0.9),
    ("五龙口小学", "Z07", "public", 1.0),
    ("巨轮小学", "Z08", "public", 1.2),
    ("剪子湾小学", "Z08", "public", 0.9),
    ("东华门小学北校区", "Z08", "public", 1.0),
    ("胜利街小学巨轮分校", "Z08", "public", 0.9),
    ("涧河小学", "Z09", "public", 1.2),
    ("新道街小学富力分校", "Z09", "public", 1.1),
    ("后沟小学涧河分校", "Z09", "public", 0.9),
    ("丈子头小学", "Z09", "public", 1.0),
    ("明德外国语小学", "Z09", "private", 0.6),
    ("杨家峪小学", "Z10", "public", 1.1),
    ("新道街小学中车分校", "Z10", "public", 1.1),
    ("化工路小学", "Z10", "public", 1.1),
    ("中涧河小学", "Z11", "rural", 0.35),
    ("松庄小学", "Z11", "rural", 0.25),
    ("窊流小学", "Z11", "rural", 0.15),
    ("西墕小学", "Z11", "rural", 0.12),
    ("东墕小学", "Z11", "rural", 0.12),
    ("小返小学", "Z12", "rural", 0.25),
    ("大返小学", "Z12", "rural", 0.12),
    ("苗家咀小学", "Z12", "rural", 0.10),
    ("柏板小学", "Z13", "rural", 0.25),
    ("冶峪小学", "Z13", "rural", 0.12),
    ("庙坪小学", "Z13", "rural", 0.10),
]
JUNIOR = [  # (name, zone, kind, size weight)
    ("杏花岭区一中", "Z02", "public", 1.5),
    ("杏花岭区二中", "Z01", "public", 1.1),
    ("杏花岭区三中", "Z04", "public", 1.3),
    ("杏花岭区四中", "Z03", "public", 1.0),
    ("杏花岭区五中", "Z05", "public", 1.0),
    ("杏花岭区六中", "Z06", "public", 1.0),
    ("杏花岭区七中", "Z07", "public", 0.9),
    ("杏花岭区八中", "Z08", "public", 1.0),
    ("杏花岭区九中", "Z09", "public", 1.0),
    ("杏花岭区三中杨家峪校区", "Z10", "public", 0.8),
    ("中涧河中学", "Z11", "rural", 0.5),
    ("小返中学", "Z12", "rural", 0.35),
    ("柏板中学", "Z13", "rural", 0.35),
]
SPECIAL = ("杏花岭区特殊教育学校", "Z04")

# 教育集团: (name, lead, branches). 9 branches in all.
GROUPS = [
    ("新道街小学教育集团", "新道街小学", ["新道街小学中车分校", "新道街小学富力分校"]),
    ("东华门小学教育集团", "东华门小学", ["东华门小学敦化坊分校", "东华门小学北校区"]),
    ("杏花岭小学教育集团", "杏花岭小学", ["杏花岭小学职工新街分校"]),
    ("后沟小学教育集团", "后沟小学", ["后沟小学涧河分校"]),
    ("胜利街小学教育集团", "胜利街小学", ["胜利街小学三桥分校", "胜利街小学巨轮分校"]),
    ("杏花岭区三中教育集团", "杏花岭区三中", ["杏花岭区三中杨家峪校区"]),
]
# 学校发展共同体 leads (members: nearest public schools not in an education group)
SCHOOL_COMMUNITY_LEADS = [
    ("杏花岭区一中学区", "杏花岭区一中"),
    ("鼓楼小学发展共同体", "鼓楼小学"),
    ("大东关小学发展共同体", "大东关小学"),
    ("坝陵桥小学发展共同体", "坝陵桥小学"),
    ("敦化坊小学发展共同体", "敦化坊小学"),
    ("职工新街小学发展共同体", "职工新街小学"),
    ("三桥小学发展共同体", "三桥小学"),
    ("巨轮小学发展共同体", "巨轮小学"),
    ("涧河小学发展共同体", "涧河小学"),
    ("杨家峪小学发展共同体", "杨家峪小学"),
]

# Public kindergartens (公办园): (name, zone, size weight). 40 of them.
KG_PUBLIC = [
    ("西羊市幼儿园", "Z01", 1.8),
    ("杏花岭区第一幼儿园", "Z01", 1.6),
    ("鼓楼幼儿园", "Z01", 1.0),
    ("柳巷幼儿园", "Z01", 0.8),
    ("杏花岭区第二幼儿园", "Z02", 1.5),
    ("府东街幼儿园", "Z02", 1.0),
    ("精营东边街幼儿园", "Z02", 0.8),
    ("察院后幼儿园", "Z02", 0.8),
    ("杏花岭区第三幼儿园", "Z03", 1.3),
    ("大东关幼儿园", "Z03", 1.0),
    ("小东门幼儿园", "Z03", 0.9),
    ("桥头街幼儿园", "Z03", 0.8),
    ("杏花岭区第四幼儿园", "Z04", 1.3),
    ("坝陵桥幼儿园", "Z04", 1.0),
    ("北大街幼儿园", "Z04", 0.9),
    ("杏花岭区第五幼儿园", "Z05", 1.4),
    ("敦化坊幼儿园", "Z05", 1.0),
    ("享堂幼儿园", "Z05", 0.9),
    ("新建路幼儿园", "Z05", 0.9),
    ("杏花岭区第六幼儿园", "Z06", 1.3),
    ("职工新街幼儿园", "Z06", 1.0),
    ("北固碾幼儿园", "Z06", 0.9),
    ("杏花岭区第七幼儿园", "Z07", 1.2),
    ("三桥幼儿园", "Z07", 1.0),
    ("五龙口幼儿园", "Z07", 0.9),
    ("杏花岭区第八幼儿园", "Z08", 1.2),
    ("巨轮幼儿园", "Z08", 1.0),
    ("剪子湾幼儿园", "Z08", 0.9),
    ("杏花岭区第九幼儿园", "Z09", 1.2),
    ("涧河幼儿园", "Z09", 1.0),
    ("丈子头幼儿园", "Z09", 0.9),
    ("杏花岭区第十幼儿园", "Z10", 1.2),
    ("杨家峪幼儿园", "Z10", 1.0),
    ("化工路幼儿园", "Z10", 0.9),
    ("中涧河乡中心幼儿园", "Z11", 0.8),
    ("松庄幼儿园", "Z11", 0.4),
    ("小返乡中心幼儿园", "Z12", 0.6),
    ("大返幼儿园", "Z12", 0.35),
    ("柏板乡中心幼儿园", "Z13", 0.6),
    ("冶峪幼儿园", "Z13", 0.35),
]
SCHOOL_COMMUNITY_MIN_MEMBERS, SCHOOL_COMMUNITY_MAX_MEMBERS = 2, 5
# 幼教发展共同体 leads (named "<lead>园区"); members: nearest unassigned inclusive kindergartens
KG_COMMUNITY_LEADS = [
    "西羊市幼儿园",
    "杏花岭区第一幼儿园",
    "杏花岭区第二幼儿园",
    "杏花岭区第三幼儿园",
    "杏花岭区第四幼儿园",
    "杏花岭区第五幼儿园",
    "杏花岭区第六幼儿园",
    "杏花岭区第七幼儿园",
    "杏花岭区第八幼儿园",
    "杏花岭区第九幼儿园",
    "杏花岭区第十幼儿园",
    "中涧河乡中心幼儿园",
    "小返乡中心幼儿园",
    "柏板乡中心幼儿园",
    "府东街幼儿园",
    "大东关幼儿园",
    "坝陵桥幼儿园",
    "敦化坊幼儿园",
    "职工新街幼儿园",
    "三桥幼儿园",
    "巨轮幼儿园",
]
KG_COMMUNITY_MIN_MEMBERS, KG_COMMUNITY_MAX_MEMBERS = 3, 5
# Names for the 52 inclusive private (普惠性民办) and 8 private (民办) kindergartens
KG_INCLUSIVE_PRIVATE_BRANDS = [
    "小天使",
    "金太阳",
    "阳光",
    "育英",
    "童心",
    "启智",
    "博爱",
    "蓓蕾",
    "爱心",
    "新星",
    "七彩",
    "小博士",
    "春苗",
    "智慧树",
    "明珠",
    "小太阳",
    "贝贝",
    "彩虹",
    "童乐",
    "快乐宝贝",
    "小红花",
    "向日葵",
    "星星",
    "小树苗",
    "金色童年",
    "童趣",
    "乐乐",
    "小精灵",
    "金钥匙",
    "育才",
    "晨曦",
    "蒲公英",
    "小百灵",
    "欢乐谷",
    "未来星",
    "小海豚",
    "朝阳",
    "小白鸽",
    "聪聪",
    "东方娃娃",
    "红苹果",
    "萌芽",
    "绿苑",
    "童星",
    "小画家",
    "紫藤",
    "春晖",
    "雏鹰",
    "金葵花",
    "希望",
    "开心果",
    "蓝天",
]
KG_PRIVATE_NAMES = [
    "博雅双语幼儿园",
    "英华国际幼儿园",
    "启明双语幼儿园",
    "锦绣国际幼儿园",
    "华韵双语幼儿园",
    "睿思国际幼儿园",
    "卓越双语幼儿园",
    "橡树湾国际幼儿园",
]
KG_SIZE_WEIGHT = {"inclusive_private": (1.0, 0.30), "private": (1.0, 0.25)}  # mean, sd


# --------------------------------------------------------------------------------------
# Deterministic helpers on top of Random.random() only
# --------------------------------------------------------------------------------------
class Draw:
    """All randomness of one stream; only Random.random() is ever called."""

    def __init__(self, seed: int):
        self._rng = random.Random(seed)

    def u(self) -> float:
        return self._rng.random()

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.u()

    def int_below(self, n: int) -> int:
        """Uniform integer in [0, n)."""
        return min(int(self.u() * n), n - 1)

    def int_between(self, a: int, b: int) -> int:
        """Uniform integer in [a, b]."""
        return a + self.int_below(b - a + 1)

    def bernoulli(self, p: float) -> bool:
        return self.u() < p

    def weighted_index(self, weights: list[float]) -> int:
        total = sum(weights)
        x = self.u() * total
        acc = 0.0
        last = -1
        for i, w in enumerate(weights):
            if w <= 0:
                continue
            last = i
            acc += w
            if x < acc:
                return i
        return last

    def weighted(self, pairs):
        """pairs: [(value, weight)] -> value."""
        return pairs[self.weighted_index([w for _, w in pairs])][0]

    def normal(self) -> float:
        """Standard normal by Box-Muller; rounded to 1e-9 so libm ulp differences cannot leak."""
        u1 = 1.0 - self.u()  # (0, 1]
        u2 = self.u()
        return round(math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2), 9)

    def shuffle(self, items: list) -> None:
        """Fisher-Yates, in place."""
        for i in range(len(items) - 1, 0, -1):
            j = self.int_below(i + 1)
            items[i], items[j] = items[j], items[i]

    def point_near(self, x: float, y: float, radius: float) -> tuple[float, float]:
        """Uniform point in the disc of `radius` around (x, y) by rejection."""
        while True:
            dx, dy = self.uniform(-1, 1), self.uniform(-1, 1)
            if dx * dx + dy * dy <= 1.0:
                return x + dx * radius, y + dy * radius


def apportion(total: int, weights: list[float]) -> list[int]:
    """Integers proportional to weights that sum exactly to total (largest remainder)."""
    s = sum(weights)
    quotas = [total * w / s for w in weights]
    base = [math.floor(q) for q in quotas]
    rest = total - sum(base)
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - base[i]), i))
    for i in order[:rest]:
        base[i] += 1
    return base


def dist(ax: float, ay: float, bx: float, by: float) -> float:
    return math.sqrt((ax - bx) ** 2 + (ay - by) ** 2)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def km(x: float) -> str:
    return f"{x:.3f}"


# --------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------
ZONE_BY_ID = {z[0]: z for z in ZONES}


def build_zones() -> list[list]:
    return [[zid, name, kind, km(x), km(y), pop] for zid, name, kind, x, y, pop in ZONES]


def _place(d: Draw, zone_id: str) -> tuple[float, float]:
    _, _, kind, zx, zy, _ = ZONE_BY_ID[zone_id]
    return d.point_near(zx, zy, SCHOOL_RADIUS_KM[kind])


def _classes(d: Draw, level: str, enrolled: int) -> int:
    lo, hi = TYPICAL_CLASS[level]
    typical = d.int_between(lo, hi)
    c = max(1, math.ceil(enrolled / typical))
    assert enrolled <= c * CLASS_CAP[level]
    return c


def build_schools() -> list[dict]:
    """All schools as dicts (one per row of schools.csv)."""
    d = Draw(SEED + 1)
    schools: list[dict] = []

    # ---- kindergartens: 40 public (hand list), 52 inclusive private, 8 private ----
    n_ip = KG_INCLUSIVE_COUNT - KG_PUBLIC_COUNT
    n_priv = KG_COUNT - KG_INCLUSIVE_COUNT
    assert len(KG_PUBLIC) == KG_PUBLIC_COUNT
    pops = [z[5] for z in ZONES]
    streets = [i for i, z in enumerate(ZONES) if z[2] == "street"]
    ip_per_zone = apportion(
        n_ip, [p * (1.0 if ZONES[i][2] == "street" else 0.5) for i, p in enumerate(pops)]
    )
    priv_per_zone = [0] * len(ZONES)
    for i, n in zip(streets, apportion(n_priv, [pops[i] for i in streets]), strict=True):
        priv_per_zone[i] = n
    brands = list(KG_INCLUSIVE_PRIVATE_BRANDS)
    assert len(brands) >= n_ip and len(set(brands)) == len(brands)
    d.shuffle(brands)
    priv_names = list(KG_PRIVATE_NAMES)
    d.shuffle(priv_names)
    kgs = []  # (name, zone, sector, weight)
    for zi, z in enumerate(ZONES):
        zid = z[0]
        kgs += [(n, zid, "public", w) for n, zz, w in KG_PUBLIC if zz == zid]
        for _ in range(ip_per_zone[zi]):
            m, sd = KG_SIZE_WEIGHT["inclusive_private"]
            kgs.append(
                (brands.pop() + "幼儿园", zid, "inclusive_private", max(0.35, m + sd * d.normal()))
            )
        for _ in range(priv_per_zone[zi]):
            m, sd = KG_SIZE_WEIGHT["private"]
            kgs.append((priv_names.pop(), zid, "private", max(0.4, m + sd * d.normal())))
    assert len(kgs) == KG_COUNT
    by_sector = {
        "public": KG_PUBLIC_CHILDREN,
        "inclusive_private": KG_INCLUSIVE_PRIVATE_CHILDREN,
        "private": KG_CHILDREN - KG_PUBLIC_CHILDREN - KG_INCLUSIVE_PRIVATE_CHILDREN,
    }
    enrolled = [0] * len(kgs)
    for sector, total in by_sector.items():
        idx = [i for i, k in enumerate(kgs) if k[2] == sector]
        # public weights get a little noise too
        ws = [
            kgs[i][3] * (1.0 + 0.08 * d.normal()) if sector == "public" else kgs[i][3] for i in idx
        ]
        for i, n in zip(idx, apportion(total, ws), strict=True):
            enrolled[i] = n
    teachers = apportion(KG_TEACHERS, [e * max(0.7, 1.0 + 0.08 * d.normal()) for e in enrolled])
    for i, (name, zid, sector, _) in enumerate(kgs):
        x, y = _place(d, zid)
        schools.append(
            dict(
                school_id=f"K{i + 1:03d}",
                name=name,
                level="kindergarten",
                sector=sector,
                zone_id=zid,
                seats=round(enrolled[i] / 3 * d.uniform(1.05, 1.15)),
                enrolled=enrolled[i],
                classes=_classes(d, "kindergarten", enrolled[i]),
                class_size_cap=CLASS_CAP["kindergarten"],
                teachers=teachers[i],
                x=x,
                y=y,
            )
        )

    # ---- primary, junior, special ----
    def noisy(w):
        return max(0.05, w * (1.0 + 0.15 * d.normal()))

    p_enr = apportion(PRIMARY_PUPILS, [noisy(w) for _, _, _, w in PRIMARY])
    j_enr = apportion(JUNIOR_PUPILS, [noisy(w) for _, _, _, w in JUNIOR])
    tw = [e / PUPILS_PER_TEACHER["primary"] * max(0.7, 1.0 + 0.06 * d.normal()) for e in p_enr] + [
        e / PUPILS_PER_TEACHER["junior"] * max(0.7, 1.0 + 0.06 * d.normal()) for e in j_enr
    ]
    t = apportion(SCHOOL_TEACHERS - SPECIAL_TEACHERS, tw)
    p_teach, j_teach = t[: len(PRIMARY)], t[len(PRIMARY) :]
    for i, (name, zid, kind, _) in enumerate(PRIMARY):
        x, y = _place(d, zid)
        schools.append(
            dict(
                school_id=f"P{i + 1:02d}",
                name=name,
                level="primary",
                sector="private" if kind == "private" else "public",
                zone_id=zid,
                seats=round(p_enr[i] / 6 * d.uniform(1.0, 1.15)),
                enrolled=p_enr[i],
                classes=_classes(d, "primary", p_enr[i]),
                class_size_cap=CLASS_CAP["primary"],
                teachers=p_teach[i],
                x=x,
                y=y,
            )
        )
    for i, (name, zid, _kind, _) in enumerate(JUNIOR):
        x, y = _place(d, zid)
        schools.append(
            dict(
                school_id=f"J{i + 1:02d}",
                name=name,
                level="junior",
                sector="public",
                zone_id=zid,
                seats=round(j_enr[i] / 3 * d.uniform(0.98, 1.08)),
                enrolled=j_enr[i],
                classes=_classes(d, "junior", j_enr[i]),
                class_size_cap=CLASS_CAP["junior"],
                teachers=j_teach[i],
                x=x,
                y=y,
            )
        )
    x, y = _place(d, SPECIAL[1])
    schools.append(
        dict(
            school_id="S01",
            name=SPECIAL[0],
            level="special",
            sector="public",
            zone_id=SPECIAL[1],
            seats=SPECIAL_SEATS,
            enrolled=SPECIAL_PUPILS,
            classes=_classes(d, "special", SPECIAL_PUPILS),
            class_size_cap=CLASS_CAP["special"],
            teachers=SPECIAL_TEACHERS,
            x=x,
            y=y,
        )
    )
    return schools


def school_rows(schools: list[dict]) -> list[list]:
    return [
        [
            s["school_id"],
            s["name"],
            s["level"],
            s["sector"],
            s["zone_id"],
            s["seats"],
            s["enrolled"],
            s["classes"],
            s["class_size_cap"],
            s["teachers"],
            km(s["x"]),
            km(s["y"]),
        ]
        for s in schools
    ]


def build_groups(schools: list[dict]) -> tuple[list[list], list[list]]:
    by_name = {s["name"]: s for s in schools}
    groups, members = [], []
    # 教育集团
    for gi, (gname, lead, branches) in enumerate(GROUPS):
        gid = f"G{gi + 1}"
        groups.append([gid, gname, "education_group", by_name[lead]["school_id"]])
        members.append([gid, by_name[lead]["school_id"], "lead"])
        for b in branches:
            assert by_name[b]["level"] == by_name[lead]["level"]
            members.append([gid, by_name[b]["school_id"], "branch"])
    in_group = {by_name[n]["school_id"] for _, lead, br in GROUPS for n in [lead, *br]}

    def form_communities(
        leads: list[dict], pool: list[dict], min_each: int, cap: int
    ) -> list[list[dict]]:
        """First `min_each` rounds: each lead in turn takes its nearest unassigned school.
        Then the rest go, nearest (lead, school) pair first, to leads with room below `cap`."""
        out = [[] for _ in leads]
        pool = list(pool)

        def d_ls(k, s):
            return dist(leads[k]["x"], leads[k]["y"], s["x"], s["y"])

        for _ in range(min_each):
            for k in range(len(leads)):
                best = min(pool, key=lambda s: (d_ls(k, s), s["school_id"]))
                out[k].append(best)
                pool.remove(best)
        pairs = sorted((d_ls(k, s), s["school_id"], k) for k in range(len(leads)) for s in pool)
        by_id = {s["school_id"]: s for s in pool}
        for _, sid, k in pairs:
            if sid in by_id and len(out[k]) < cap:
                out[k].append(by_id.pop(sid))
        assert not by_id, "community capacity too small"
        return out

    # 学校发展共同体: public primary/junior schools outside the education groups
    leads = [by_name[n] for _, n in SCHOOL_COMMUNITY_LEADS]
    lead_ids = {s["school_id"] for s in leads}
    pool = [
        s
        for s in schools
        if s["level"] in ("primary", "junior")
        and s["sector"] == "public"
        and s["school_id"] not in in_group
        and s["school_id"] not in lead_ids
    ]
    mems = form_communities(leads, pool, SCHOOL_COMMUNITY_MIN_MEMBERS, SCHOOL_COMMUNITY_MAX_MEMBERS)
    for ci, ((cname, _), lead, mem) in enumerate(
        zip(SCHOOL_COMMUNITY_LEADS, leads, mems, strict=True)
    ):
        cid = f"C{ci + 1:02d}"
        groups.append([cid, cname, "school_community", lead["school_id"]])
        members.append([cid, lead["school_id"], "lead"])
        members += [[cid, sid, "member"] for sid in sorted(s["school_id"] for s in mem)]

    # 幼教发展共同体: inclusive kindergartens (public + inclusive_private)
    leads = [by_name[n] for n in KG_COMMUNITY_LEADS]
    lead_ids = {s["school_id"] for s in leads}
    pool = [
        s
        for s in schools
        if s["level"] == "kindergarten"
        and s["sector"] != "private"
        and s["school_id"] not in lead_ids
    ]
    mems = form_communities(leads, pool, KG_COMMUNITY_MIN_MEMBERS, KG_COMMUNITY_MAX_MEMBERS)
    for ci, (lead, mem) in enumerate(zip(leads, mems, strict=True)):
        cid = f"KC{ci + 1:02d}"
        groups.append([cid, lead["name"] + "园区", "kindergarten_community", lead["school_id"]])
        members.append([cid, lead["school_id"], "lead"])
        members += [[cid, sid, "member"] for sid in sorted(s["school_id"] for s in mem)]
    return groups, members


def build_births() -> dict[tuple[str, int], int]:
    """Births by zone and year; births 2015..2017 sum exactly to POP_3_5_IN_2020."""
    d = Draw(SEED + 2)
    fert = {z[0]: max(0.8, 1.0 + 0.08 * d.normal()) for z in ZONES}
    raw = {}
    for zid, _, kind, _, _, pop in ZONES:
        rate = 0.0087 * (1.08 if kind == "township" else 1.0)  # about 8.7 births per 1000
        for y in YEARS:
            raw[(zid, y)] = pop * rate * BIRTH_SHAPE[y] * fert[zid] * (1.0 + 0.04 * d.normal())
    window = [(z[0], y) for z in ZONES for y in (2015, 2016, 2017)]
    scale = POP_3_5_IN_2020 / sum(raw[k] for k in window)
    births = {k: int(v * scale + 0.5) for k, v in raw.items()}
    for k, n in zip(window, apportion(POP_3_5_IN_2020, [raw[k] for k in window]), strict=True):
        births[k] = n
    return births


def birth_rows(births) -> list[list]:
    return [[z[0], y, births[(z[0], y)]] for z in ZONES for y in YEARS]


def choice_weights(schools: list[dict], level: str) -> tuple[list[dict], dict[str, list[float]]]:
    """Per-zone first-choice probabilities, with the popular schools calibrated to HOT_TARGETS.
    Kindergarten applicants register at public kindergartens only (公办园电脑派位; private and
    inclusive private ones admit directly, outside the lottery)."""
    cands = [
        s
        for s in schools
        if s["level"] == level and (level != "kindergarten" or s["sector"] == "public")
    ]
    base = {}
    for zid, _, _, zx, zy, _ in ZONES:
        row = []
        for s in cands:
            g = 1.0 / (1.0 + (dist(zx, zy, s["x"], s["y"]) / DIST_SCALE_KM) ** 2)
            if s["zone_id"] == zid:
                g *= OWN_ZONE_BONUS
            if s["sector"] == "private":
                g *= PRIVATE_PULL
            row.append(s["seats"] * g)
        base[zid] = row
    return cands, base


def calibrate(cands, base, n_by_zone: dict[str, float], targets: dict[str, float]) -> list[float]:
    """Popularity multipliers so expected first-choice demand / seats hits each target."""
    pop = [1.0] * len(cands)
    hot = {i: targets[s["name"]] for i, s in enumerate(cands) if s["name"] in targets}
    assert len(hot) == len(targets)
    for _ in range(200):
        demand = [0.0] * len(cands)
        for zid, row in base.items():
            ws = [p * b for p, b in zip(pop, row, strict=True)]
            tot = sum(ws)
            for i, w in enumerate(ws):
                demand[i] += n_by_zone[zid] * w / tot
        for i, t in hot.items():
            pop[i] *= t * cands[i]["seats"] / demand[i]
    return [round(p, 9) for p in pop]


def build_applicants(schools, births, level: str) -> list[list]:
    if level == "kindergarten":
        d, total, prefix = Draw(SEED + 3), KG_APPLICANTS_2021, "KA21"
        first = datetime.date(2017, 9, 1)
        last = datetime.date(2018, 8, 31)
    else:
        d, total, prefix = Draw(SEED + 4), PRIMARY_APPLICANTS_2021, "PA21"
        first = datetime.date(2014, 9, 1)
        last = datetime.date(2015, 8, 31)
    # children born Sep (Y1) .. Aug (Y1 + 1): 4/12 of Y1's births, 8/12 of the next year's
    zone_w = [
        births[(z[0], first.year)] * 4 / 12 + births[(z[0], last.year)] * 8 / 12 for z in ZONES
    ]
    per_zone = apportion(total, zone_w)
    zones = [z[0] for z, n in zip(ZONES, per_zone, strict=True) for _ in range(n)]
    d.shuffle(zones)

    cands, base = choice_weights(schools, level)
    p_choose = 1.0 - N_CHOICES_P[0][1]
    n_by_zone = {z[0]: n * p_choose for z, n in zip(ZONES, per_zone, strict=True)}
    pop = calibrate(cands, base, n_by_zone, HOT_TARGETS[level])
    weights = {zid: [p * b for p, b in zip(pop, row, strict=True)] for zid, row in base.items()}
    ndays = (last - first).days + 1

    rows = []
    for k, zid in enumerate(zones):
        n = d.weighted(N_CHOICES_P)
        if level == "kindergarten":
            n = min(n, KG_MAX_CHOICES)
        ws = list(weights[zid])
        picks = []
        for _ in range(n):
            i = d.weighted_index(ws)
            picks.append(cands[i]["school_id"])
            ws[i] = 0.0
        category = d.weighted(CATEGORY_P)
        migrant = 1 if d.bernoulli(MIGRANT_P[category]) else 0
        sibling = ""
        if d.bernoulli(SIBLING_P):
            if picks and d.bernoulli(0.8):
                sibling = picks[0]
            else:
                sibling = cands[d.weighted_index(weights[zid])]["school_id"]
        gender = "F" if d.bernoulli(FEMALE_P) else "M"
        birth = first + datetime.timedelta(days=d.int_below(ndays))
        special = 1 if d.bernoulli(SPECIAL_NEEDS_P) else 0
        rows.append(
            [
                f"{prefix}-{k + 1:05d}",
                zid,
                ";".join(picks),
                category,
                sibling,
                gender,
                birth.isoformat(),
                special,
                migrant,
            ]
        )
    return rows


# --------------------------------------------------------------------------------------
# Admission rules v2: communities (小区/村), catchments (划片), families, staff children,
# residence years, birth dates outside the window. Separate streams (SEED + 7 .. SEED + 9),
# applied to the rows drawn above, so that the other files do not change.
# --------------------------------------------------------------------------------------
N_COMMUNITIES = 150
COMMUNITY_WORDS = [
    "和平", "幸福", "阳光", "锦绣", "翠苑", "华庭", "新城", "名都", "雅居", "康乐", "兴华",
    "春晖", "丽景", "金地", "御园", "华苑", "晋阳", "汾河", "迎春", "柳溪", "东方", "明珠",
    "桃园", "枫林", "怡景", "瑞祥", "嘉园", "景苑", "龙城", "锦华", "泰和", "富康",
]  # fmt: skip
COMMUNITY_SUFFIX = ["小区", "苑", "花园", "家园", "新村"]
VILLAGE_WORDS = ["王家", "李家", "张家", "赵家", "刘家", "陈家", "杨家", "郭家", "韩家", "冯家"]
TWIN_P, TRIPLET_P = 0.012, 0.0008  # 多胞胎: about 1.2 % twins and a few triplets
STAFF_P = 0.01  # a parent works at a school of the level (教职工子女)
OUTSIDE_WINDOW_P = {"after": 0.006, "before": 0.004}  # born outside the 9/1 - 8/31 window
SECOND_CATCHMENT_P, THIRD_CATCHMENT_P = 0.22, 0.06  # 多校划片: a community in 2 or 3 学区
GROUP_CHOICE_P = 0.4  # in such a community, 1st position "P01|P02": any of them
CATCHMENT_HOME_P = 0.7  # a child lives in the 学区 of their first choice (if in their zone)


def build_communities() -> list[list]:
    """About 150 communities (小区, 村 in the townships) across the 13 zones, by population."""
    d = Draw(SEED + 7)
    counts = apportion(N_COMMUNITIES, [z[5] for z in ZONES])
    rows, used = [], set()
    for (zid, _zname, kind, zx, zy, _), n in zip(ZONES, counts, strict=True):
        for _ in range(max(1, n)):
            while True:
                if kind == "township":
                    name = VILLAGE_WORDS[d.int_below(len(VILLAGE_WORDS))] + "村"
                    name = f"{ZONE_BY_ID[zid][1][:-1]}{name}"
                else:
                    word = COMMUNITY_WORDS[d.int_below(len(COMMUNITY_WORDS))]
                    name = word + COMMUNITY_SUFFIX[d.int_below(len(COMMUNITY_SUFFIX))]
                if name not in used:
                    used.add(name)
                    break
            x, y = d.point_near(zx, zy, SCHOOL_RADIUS_KM[kind])
            rows.append([f"C{len(rows) + 1:03d}", zid, name, km(x), km(y)])
    return rows


def build_catchments(schools: list[dict], communities: list[list]) -> list[list]:
    """Each community lies in the 学区 of the nearest public school of its zone (of each level
    that draws lots: primary, kindergarten); some also in the second or third nearest
    (多校划片). Every public school's catchment holds at least its nearest community."""
    d = Draw(SEED + 8)
    pairs = set()
    for level in ("primary", "kindergarten"):
        public = [s for s in schools if s["level"] == level and s["sector"] == "public"]
        for cid, zid, _, x, y in communities:
            own = [s for s in public if s["zone_id"] == zid] or public
            ranked = sorted(
                own, key=lambda s: (dist(float(x), float(y), s["x"], s["y"]), s["school_id"])
            )
            k = 1
            if d.bernoulli(SECOND_CATCHMENT_P):
                k = 3 if d.bernoulli(THIRD_CATCHMENT_P / SECOND_CATCHMENT_P) else 2
            for s in ranked[:k]:
                pairs.add((s["school_id"], cid))
        for s in public:
            if not any(sid == s["school_id"] for sid, _ in pairs):
                nearest = min(
                    communities,
                    key=lambda c: (dist(float(c[3]), float(c[4]), s["x"], s["y"]), c[0]),
                )
                pairs.add((s["school_id"], nearest[0]))
    return [list(p) for p in sorted(pairs)]


def add_admission_columns(rows, level, schools, communities, catchments) -> list[list]:
    """The columns of rules v2 for the applicant rows drawn above (in place of nothing: the
    rows keep their order and ids): community_id, family_id, staff_school_id,
    residence_years; twins and triplets copy their first sibling's zone, community, choices,
    category and birth date; a few birth dates move outside the admission window; in a
    multi-school community the first position may name the catchment's schools as a group."""
    d = Draw(SEED + 9 if level == "primary" else SEED + 10)
    by_zone: dict[str, list[str]] = {}
    for cid, zid, *_ in communities:
        by_zone.setdefault(zid, []).append(cid)
    schools_of: dict[str, list[str]] = {}
    level_ids = {s["school_id"] for s in schools if s["level"] == level}
    communities_of: dict[str, list[str]] = {}
    for sid, cid in catchments:
        if sid in level_ids:
            schools_of.setdefault(cid, []).append(sid)
            communities_of.setdefault(sid, []).append(cid)
    first, last = (
        (datetime.date(2014, 9, 1), datetime.date(2015, 8, 31))
        if level == "primary"
        else (datetime.date(2017, 9, 1), datetime.date(2018, 8, 31))
    )
    out = []
    k = 0
    while k < len(rows):
        row = list(rows[k])
        zid = row[1]
        choices = row[2].split(";") if row[2] else []
        pool = by_zone[zid]
        home = [c for c in communities_of.get(choices[0], []) if c in pool] if choices else []
        if home and d.bernoulli(CATCHMENT_HOME_P):  # most families apply to their 学区 school
            pool = home
        community = pool[d.int_below(len(pool))]
        group = sorted(schools_of.get(community, []))
        if (
            level == "primary"
            and len(group) > 1
            and choices
            and choices[0] in group
            and d.bernoulli(GROUP_CHOICE_P)
        ):
            rest = [c for c in choices[1:] if c not in group]
            choices = ["|".join(group), *rest][:PRIMARY_MAX_CHOICES]
        row[2] = ";".join(choices)
        birth = datetime.date.fromisoformat(row[6])
        u = d.u()
        if u < OUTSIDE_WINDOW_P["after"]:  # 未满龄: born after 31 August
            birth = last + datetime.timedelta(days=1 + d.int_below(120))
        elif u < OUTSIDE_WINDOW_P["after"] + OUTSIDE_WINDOW_P["before"]:  # a year older
            birth = first - datetime.timedelta(days=1 + d.int_below(300))
        row[6] = birth.isoformat()
        staff = ""
        if d.bernoulli(STAFF_P):
            staff = choices[0].split("|")[0] if choices and d.bernoulli(0.7) else ""
        years = str(1 + d.int_below(9)) if row[3] == "C" else ""
        size = 1
        v = d.u()
        if v < TRIPLET_P:
            size = 3
        elif v < TRIPLET_P + TWIN_P:
            size = 2
        size = min(size, len(rows) - k)
        family = f"F{level[0].upper()}{k + 1:05d}" if size > 1 else ""
        out.append([*row, community, family, staff, years])
        for j in range(1, size):
            twin = list(rows[k + j])
            # a twin: same home, choices, category and birth date; own gender and needs
            twin[1:5] = row[1:5]
            twin[6] = row[6]
            twin[8] = row[8]
            out.append([*twin, community, family, staff, years])
        k += size
    return out


POLICY_KINDERGARTEN = """\
# Public kindergarten admission lottery (公办幼儿园电脑派位), Xinghualing 2021 (synthetic data).
# Sources (data/xinghualing/README.md): a child registers at one named public kindergarten;
# 审核合格的幼儿数少于招生计划全部录取, 大于招生计划按电脑派位录取; children of the
# kindergarten's service area (服务片区) who own a home there come first.
# Run it on the public kindergartens only: --level kindergarten --sector public.
mechanism = "immediate_acceptance"   # one choice each: immediate and deferred acceptance agree
tie_break = "single"                 # one lottery number per applicant
born_from = "2017-09-01"             # 小班: aged 3 by 31 August 2021
born_to = "2018-08-31"
max_choices = 1                      # 每名幼儿只能报名一所公办园

# 第一类: 服务片区内房户一致 (home owned in the area, household registered there)
[[tiers]]
name = "catchment_hukou_property"
label = "服务片区内房户一致（户籍+房产）"
in_catchment = true
category = ["A"]

# 第二类: 服务片区内有房产, 户籍在本市其他地址 (人户分离)
[[tiers]]
name = "catchment_property"
label = "服务片区内有房产（人户分离）"
in_catchment = true
category = ["B"]

# 第三类: 服务片区内居住证 (随迁子女), longer residence first
[[tiers]]
name = "catchment_residence_permit"
label = "服务片区内持居住证（随迁子女），按居住年限"
in_catchment = true
category = ["C"]
order_by = "residence_years"

# 其余申请人: everyone else falls into the implicit last tier "open"
"""

POLICY_PRIMARY = """\
# Primary (grade 1) admission lottery, Xinghualing 2021 (synthetic data; sources in
# data/xinghualing/README.md). 小学入学统一实行网上信息登记; oversubscribed schools admit
# by tier, then lottery number; children not admitted are 统筹安排 into public schools with
# seats (lottery run --fallback nearest).
mechanism = "deferred_acceptance"    # 平行志愿: no loss for ranking a popular school first
tie_break = "single"                 # one lottery number per applicant
born_from = "2014-09-01"             # 年满6周岁: born 2014-09-01 .. 2015-08-31
born_to = "2015-08-31"               # born after 31 August: waits a year
max_choices = 3
fallback_sectors = ["public"]        # 统筹 only into public schools

# 第一类: 学区内房户一致 (本区户籍 + 学区内住宅房产)
[[tiers]]
name = "catchment_hukou_property"
label = "学区内房户一致（户籍+房产）"
in_catchment = true
category = ["A"]

# 第二类: 学区内有房产, 户籍在本市其他地址 (人户分离)
[[tiers]]
name = "catchment_property"
label = "学区内有房产（人户分离）"
in_catchment = true
category = ["B"]

# 第三类: 学区内持居住证的随迁子女, ordered by years of residence (按居住年限排序)
[[tiers]]
name = "catchment_residence_permit"
label = "学区内持居住证（随迁子女），按居住年限"
in_catchment = true
category = ["C"]
order_by = "residence_years"

# 公民同招: an oversubscribed private school admits by lottery alone (民办学校超额电脑随机录取)
[[school_rules]]
match = { sector = ["private"] }
tiers = []

# 随班就读: a seat at every public school for a child with special needs from its 学区
[[reserves]]
name = "special_needs"
label = "随班就读（学区内适龄残疾儿童）"
match = { sector = ["public"] }
seats = 1
in_catchment = true
attributes = { special_needs = ["1"] }

# 其余申请人: everyone else falls into the implicit last tier "open"
"""

APPLICANT_HEADER = [
    "applicant_id",
    "zone_id",
    "choices",
    "category",
    "sibling_school_id",
    "gender",
    "birth_date",
    "special_needs",
    "migrant",
    "community_id",
    "family_id",
    "staff_school_id",
    "residence_years",
]


# --------------------------------------------------------------------------------------
# Teachers (teachers.csv) and class requests: separate streams (SEED + 5, SEED + 6), drawn
# after everything above, so the files above do not change.
# --------------------------------------------------------------------------------------
SUBJECT_SHARES = {
    "kindergarten": [("preschool", 1.0)],
    "primary": [
        ("chinese", 0.30),
        ("math", 0.24),
        ("english", 0.11),
        ("science", 0.07),
        ("moral", 0.06),
        ("music", 0.07),
        ("art", 0.06),
        ("pe", 0.09),
    ],
    "junior": [
        ("chinese", 0.14),
        ("math", 0.14),
        ("english", 0.13),
        ("politics", 0.08),
        ("history", 0.07),
        ("geography", 0.06),
        ("biology", 0.07),
        ("physics", 0.08),
        ("chemistry", 0.05),
        ("pe", 0.08),
        ("music", 0.04),
        ("art", 0.03),
        ("it", 0.03),
    ],
    "special": [("special_education", 1.0)],
}
# new classes a teacher of this subject may take (max_classes): (low, high)
MAX_CLASSES = {"chinese": (1, 2), "math": (2, 2), "english": (3, 4), "preschool": (1, 1)}
MAX_CLASSES_OTHER = (2, 5)
# per new class: teachers of each subject needed (1 for junior's other required subjects)
PER_CLASS = {
    "kindergarten": {"preschool": 2},
    "primary": {"chinese": 1, "math": 1, "english": 1},
    "junior": {
        s: 1 for s in ("chinese", "math", "english", "politics", "history", "geography", "biology")
    },
    "special": {"special_education": 2},
}
HOMEROOM_SUBJECT = {
    "kindergarten": "preschool",
    "primary": "chinese",
    "junior": "chinese",
    "special": "special_education",
}
HOMEROOM_P = {"chinese": 0.85, "math": 0.5, "preschool": 0.8, "special_education": 0.7}
HOMEROOM_P_OTHER = 0.15
ROTATING_P = 0.15  # 交流轮岗, in education-group schools only


def _title(d: Draw, years: int) -> str:
    """Chinese professional titles (职称), more senior with experience."""
    if years < 2:
        return "三级"
    if years < 6:
        return "二级"
    if years < 13:
        return "一级" if d.bernoulli(0.7) else "二级"
    if years < 25:
        return "高级" if d.bernoulli(0.5) else "一级"
    u = d.u()
    return "正高级" if u < 0.05 else ("高级" if u < 0.85 else "一级")


def build_teachers(schools: list[dict], members: list[list]) -> list[list]:
    """One row per full-time teacher, as many per school as schools.csv's teachers column."""
    d = Draw(SEED + 5)
    in_education_group = {m[1] for m in members if m[0].startswith("G")}
    rows = []
    for s in schools:
        level, n = s["level"], s["teachers"]
        new_classes = math.ceil(s["seats"] / CLASS_CAP[level])
        shares = SUBJECT_SHARES[level]
        counts = dict(
            zip([x for x, _ in shares], apportion(n, [w for _, w in shares]), strict=True)
        )
        # enough teachers for the entry year's classes, taken from the largest other subject
        for subject, per_class in PER_CLASS[level].items():
            lo, _ = MAX_CLASSES.get(subject, MAX_CLASSES_OTHER)
            need = max(new_classes, math.ceil(new_classes * per_class / lo))
            while counts[subject] < need:
                donor = max((c for c in counts if c not in PER_CLASS[level]), key=counts.get)
                assert counts[donor] > 0, s["school_id"]
                counts[donor] -= 1
                counts[subject] += 1
        k = 0
        for subject, _ in shares:
            homeroom_left = new_classes if subject == HOMEROOM_SUBJECT[level] else 0
            for _ in range(counts[subject]):
                k += 1
                years = d.int_between(0, 35)
                title = _title(d, years)
                rating = min(99.0, max(50.0, 78.0 + 0.15 * min(years, 20) + 7.0 * d.normal()))
                lo, hi = MAX_CLASSES.get(subject, MAX_CLASSES_OTHER)
                homeroom = d.bernoulli(HOMEROOM_P.get(subject, HOMEROOM_P_OTHER))
                if homeroom_left > 0:  # every new class can have a homeroom teacher
                    homeroom, homeroom_left = True, homeroom_left - 1
                rotating = s["school_id"] in in_education_group and d.bernoulli(ROTATING_P)
                rows.append(
                    [
                        f"T{s['school_id']}-{k:03d}",
                        s["school_id"],
                        subject,
                        title,
                        years,
                        f"{rating:.1f}",
                        d.int_between(lo, hi),
                        int(rotating),
                        int(homeroom),
                    ]
                )
    return rows


TEACHER_HEADER = [
    "teacher_id",
    "school_id",
    "subject",
    "title",
    "years",
    "rating",
    "max_classes",
    "rotating",
    "homeroom",
]


def build_class_requests(schools: list[dict], pr_apps: list[list]) -> list[list]:
    """Parents' class requests for a few 2021 grade-1 applicants: siblings/twins to keep
    together, pairs to keep apart, one fixed class. Only applicants whose first choice is a
    school listed by no more applicants than it has seats: deferred acceptance always places
    them there, whatever the seed, so the requests apply in every draw."""
    d = Draw(SEED + 6)
    seats = {s["school_id"]: s["seats"] for s in schools if s["level"] == "primary"}
    listed = {sid: 0 for sid in seats}
    for row in pr_apps:
        for sid in row[2].replace("|", ";").split(";") if row[2] else []:
            listed[sid] += 1
    safe = {sid for sid in seats if listed[sid] <= seats[sid]}
    by_school: dict[str, list[list]] = {}
    for row in pr_apps:
        eligible = "2014-09-01" <= row[6] <= "2015-08-31"  # the policy's window (born_from/to)
        if eligible and row[2] and row[2].split(";")[0] in safe:
            by_school.setdefault(row[2].split(";")[0], []).append(row)
    schools_used = sorted(sid for sid, rows in by_school.items() if len(rows) >= 30)
    requests = []
    for kind in ["together"] * 6 + ["apart"] * 3 + ["fixed"]:
        sid = schools_used[d.int_below(len(schools_used))]
        pool = by_school[sid]
        a = pool.pop(d.int_below(len(pool)))
        if kind == "fixed":
            requests.append([a[0], "", "", 1])
            continue
        b = pool.pop(d.int_below(len(pool)))
        if kind == "together":
            requests.append([a[0], b[0], "", ""])
        else:
            requests.append([a[0], "", b[0], ""])
    return sorted(requests)


def check(schools, groups, members, births, kg_apps, pr_apps) -> None:
    """The plan's figures (and contract invariants) hold exactly, or we refuse to write."""
    lv = {
        lvl: [s for s in schools if s["level"] == lvl]
        for lvl in ("kindergarten", "primary", "junior", "special")
    }
    kg = lv["kindergarten"]
    assert len(kg) == KG_COUNT and sum(s["enrolled"] for s in kg) == KG_CHILDREN
    assert sum(s["teachers"] for s in kg) == KG_TEACHERS
    assert sum(s["sector"] != "private" for s in kg) == KG_INCLUSIVE_COUNT
    assert sum(s["enrolled"] for s in kg if s["sector"] == "public") == KG_PUBLIC_CHILDREN
    assert sum(s["enrolled"] for s in kg if s["sector"] != "private") >= 0.9 * KG_CHILDREN
    pr = lv["primary"]
    township = {z[0] for z in ZONES if z[2] == "township"}
    pub = [s for s in pr if s["sector"] == "public"]
    assert len(pr) == 51 and len(pub) == 49
    assert sum(s["zone_id"] in township for s in pub) == PRIMARY_PUBLIC_RURAL
    assert sum(s["zone_id"] not in township for s in pub) == PRIMARY_PUBLIC_URBAN
    assert sum(s["enrolled"] for s in pr) == PRIMARY_PUPILS
    ju = lv["junior"]
    assert len(ju) == JUNIOR_URBAN + JUNIOR_RURAL
    assert sum(s["zone_id"] in township for s in ju) == JUNIOR_RURAL
    assert sum(s["enrolled"] for s in ju) == JUNIOR_PUPILS
    assert sum(s["teachers"] for s in pr + ju + lv["special"]) == SCHOOL_TEACHERS
    for s in schools:
        assert s["enrolled"] <= s["classes"] * s["class_size_cap"], s
    assert sum(births[(z[0], y)] for z in ZONES for y in (2015, 2016, 2017)) == POP_3_5_IN_2020
    assert round(100 * KG_CHILDREN / POP_3_5_IN_2020, 2) == KG_GROSS_RATE_2020
    kinds = [g[2] for g in groups]
    assert kinds.count("education_group") == EDUCATION_GROUPS
    assert kinds.count("school_community") == SCHOOL_COMMUNITIES
    assert kinds.count("kindergarten_community") == KG_COMMUNITIES
    assert sum(m[2] == "branch" for m in members) == GROUP_BRANCHES
    assert sum(s["seats"] for s in pr) >= len(pr_apps)
    assert sum(s["seats"] for s in kg) > len(kg_apps)


# --------------------------------------------------------------------------------------
# Planning data (issue 14): births 2021-2025, enrolment 2016-2020, teachers' qualification.
# Each has its own stream (SEED + 7, + 8, + 9), drawn after everything else, so no earlier
# file changes.
# --------------------------------------------------------------------------------------
# China's recorded births, 10,000s (国家统计局《国民经济和社会发展统计公报》 2020-2025:
# 1202, 1062, 956, 902, 954, 792 万人). Xinghualing's births after 2020 follow their ratio to 2020.
NATIONAL_BIRTHS = {2020: 1202, 2021: 1062, 2022: 956, 2023: 902, 2024: 954, 2025: 792}
BIRTH_YEARS_RECORDED = list(range(2010, 2026))
# Cohorts on roll in 2016-2020 born before births.csv starts (2002-2009): relative to 2010,
# internal only (never written), so the older grades of 2016 have a size.
EARLY_BIRTH_SHAPE = {
    2002: 0.95,
    2003: 0.95,
    2004: 0.96,
    2005: 0.97,
    2006: 0.98,
    2007: 1.00,
    2008: 1.02,
    2009: 1.01,
}
ENROLMENT_YEARS = list(range(2016, 2021))
# grade (kindergarten year 小班/中班/大班 = K1/K2/K3) -> age; cohort born year - age
GRADE_AGES = {
    "kindergarten": [("K1", 3), ("K2", 4), ("K3", 5)],
    "primary": [(str(g), 5 + g) for g in range(1, 7)],
    "junior": [(str(g), 5 + g) for g in range(7, 10)],
}
# on roll per birth by grade (before each school's scale): kindergarten take-up rises with age;
# primary gains a little each year (随迁 in-migration), junior loses a little (巩固率 about 99.6 %)
GRADE_PROFILE = {
    "kindergarten": [0.86, 1.00, 1.04],
    "primary": [1.006**g for g in range(6)],
    "junior": [0.998**g for g in range(3)],
}
ENROLMENT_NOISE = {"kindergarten": 0.025, "primary": 0.02, "junior": 0.005}  # relative sd
PRESCHOOL_TRAINED_2020 = 0.65  # 学前教育专任教师接受专业教育的比例 2020: 65 (plan's table)


def extend_births(births: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Births 2021-2025: each zone's 2020 births x the national ratio to 2020 x N(1, 0.03)."""
    d = Draw(SEED + 7)
    out = dict(births)
    for z in ZONES:
        base = births[(z[0], 2020)]
        for y in range(2021, 2026):
            ratio = NATIONAL_BIRTHS[y] / NATIONAL_BIRTHS[2020]
            out[(z[0], y)] = int(base * ratio * (1.0 + 0.03 * d.normal()) + 0.5)
    return out


def all_birth_rows(births) -> list[list]:
    return [[z[0], y, births[(z[0], y)]] for z in ZONES for y in BIRTH_YEARS_RECORDED]


def _cohort_births(births, zone_id: str, year: int) -> float:
    if year < 2010:
        return births[(zone_id, 2010)] * EARLY_BIRTH_SHAPE[year]
    return float(births[(zone_id, year)])


def build_enrolment(schools: list[dict], births) -> list[list]:
    """Pupils on roll by school, grade and year 2016-2020 (kindergartens, primary, junior).

    Every cell is the school's zone's births of the cohort x the grade profile x N(1, sd by level),
    times one scale per school chosen so that the school's 2020 cells sum (largest remainder)
    to its `enrolled` in schools.csv: the plan's totals hold in 2020 and every school keeps its
    own entry ratio and progression over the years."""
    d = Draw(SEED + 8)
    rows = []
    for s in schools:
        level = s["level"]
        if level not in GRADE_AGES:
            continue
        raw = {}
        for year in ENROLMENT_YEARS:
            for (grade, age), prof in zip(GRADE_AGES[level], GRADE_PROFILE[level], strict=True):
                noise = 1.0 + ENROLMENT_NOISE[level] * d.normal()
                raw[(year, grade)] = _cohort_births(births, s["zone_id"], year - age) * prof * noise
        grades = [g for g, _ in GRADE_AGES[level]]
        total_2020 = sum(raw[(2020, g)] for g in grades)
        scale = s["enrolled"] / total_2020
        last = apportion(s["enrolled"], [raw[(2020, g)] for g in grades])
        for year in ENROLMENT_YEARS:
            for k, grade in enumerate(grades):
                n = last[k] if year == 2020 else int(raw[(year, grade)] * scale + 0.5)
                rows.append([s["school_id"], year, grade, n])
    return rows


def preschool_trained(schools: list[dict], teachers: list[list]) -> list[str]:
    """`preschool_trained` per teacher row: exactly round(65 % x 1,696) kindergarten teachers
    are 1, drawn without replacement (weight 1.5 in public kindergartens, x1.3 under 10 years
    of service); school teachers get an empty value."""
    d = Draw(SEED + 9)
    level_of = {s["school_id"]: s["level"] for s in schools}
    sector_of = {s["school_id"]: s["sector"] for s in schools}
    keyed = []
    for i, t in enumerate(teachers):
        if level_of[t[1]] != "kindergarten":
            continue
        w = (1.5 if sector_of[t[1]] == "public" else 1.0) * (1.3 if t[4] < 10 else 1.0)
        u = 1.0 - d.u()  # (0, 1]
        keyed.append((-math.log(u) / w, i))  # Efraimidis-Spirakis: smallest keys are drawn
    keyed.sort()
    n = round(PRESCHOOL_TRAINED_2020 * len(keyed))
    chosen = {i for _, i in keyed[:n]}
    kg = {i for _, i in keyed}
    return [("1" if i in chosen else "0") if i in kg else "" for i in range(len(teachers))]


def check_planning(schools, births, enrolment, trained) -> None:
    """The plan's 2020 totals in enrolment.csv; births 2021-2025 near the national ratios."""
    level_of = {s["school_id"]: s["level"] for s in schools}
    totals = {}
    for sid, year, _, n in enrolment:
        if year == 2020:
            totals[level_of[sid]] = totals.get(level_of[sid], 0) + n
    assert totals == {
        "kindergarten": KG_CHILDREN,
        "primary": PRIMARY_PUPILS,
        "junior": JUNIOR_PUPILS,
    }, totals
    enrolled = {s["school_id"]: s["enrolled"] for s in schools}
    for sid in {r[0] for r in enrolment}:
        assert sum(r[3] for r in enrolment if r[0] == sid and r[1] == 2020) == enrolled[sid]
    b2020 = sum(births[(z[0], 2020)] for z in ZONES)
    for y in range(2021, 2026):
        ratio = sum(births[(z[0], y)] for z in ZONES) / b2020
        assert abs(ratio - NATIONAL_BIRTHS[y] / NATIONAL_BIRTHS[2020]) < 0.02, (y, ratio)
    marked = [t for t in trained if t]
    assert len(marked) == KG_TEACHERS
    assert round(100 * marked.count("1") / len(marked)) == round(100 * PRESCHOOL_TRAINED_2020)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "xinghualing"
    out.mkdir(parents=True, exist_ok=True)
    schools = build_schools()
    groups, members = build_groups(schools)
    births = build_births()
    kg_apps = build_applicants(schools, births, "kindergarten")
    pr_apps = build_applicants(schools, births, "primary")
    communities = build_communities()
    catchments = build_catchments(schools, communities)
    kg_apps = add_admission_columns(kg_apps, "kindergarten", schools, communities, catchments)
    pr_apps = add_admission_columns(pr_apps, "primary", schools, communities, catchments)
    check(schools, groups, members, births, kg_apps, pr_apps)

    write_csv(
        out / "zones.csv", ["zone_id", "name", "kind", "x_km", "y_km", "population"], build_zones()
    )
    write_csv(
        out / "schools.csv",
        [
            "school_id",
            "name",
            "level",
            "sector",
            "zone_id",
            "seats",
            "enrolled",
            "classes",
            "class_size_cap",
            "teachers",
            "x_km",
            "y_km",
        ],
        school_rows(schools),
    )
    write_csv(out / "groups.csv", ["group_id", "name", "kind", "lead_school_id"], groups)
    write_csv(out / "group_members.csv", ["group_id", "school_id", "role"], members)
    all_births = extend_births(births)
    write_csv(out / "births.csv", ["zone_id", "year", "births"], all_birth_rows(all_births))
    write_csv(
        out / "communities.csv", ["community_id", "zone_id", "name", "x_km", "y_km"], communities
    )
    write_csv(out / "catchments.csv", ["school_id", "community_id"], catchments)
    write_csv(out / "applicants_kindergarten_2021.csv", APPLICANT_HEADER, kg_apps)
    write_csv(out / "applicants_primary_2021.csv", APPLICANT_HEADER, pr_apps)
    teachers = build_teachers(schools, members)
    level_of = {s["school_id"]: s["level"] for s in schools}
    assert sum(level_of[t[1]] == "kindergarten" for t in teachers) == KG_TEACHERS
    assert sum(level_of[t[1]] != "kindergarten" for t in teachers) == SCHOOL_TEACHERS
    enrolment = build_enrolment(schools, all_births)
    trained = preschool_trained(schools, teachers)
    check_planning(schools, all_births, enrolment, trained)
    write_csv(out / "enrolment.csv", ["school_id", "year", "grade", "pupils"], enrolment)
    write_csv(
        out / "teachers.csv",
        [*TEACHER_HEADER, "preschool_trained"],
        [[*t, q] for t, q in zip(teachers, trained, strict=True)],
    )
    write_csv(
        out / "class_requests_primary_2021.csv",
        ["pupil_id", "together_with", "apart_from", "fixed_class"],
        build_class_requests(schools, pr_apps),
    )
    for name, text in (
        ("policy_kindergarten.toml", POLICY_KINDERGARTEN),
        ("policy_primary.toml", POLICY_PRIMARY),
    ):
        with open(out / name, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
