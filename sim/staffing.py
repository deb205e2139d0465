"""Teachers needed (编制) from stated ratios, and the share of kindergarten teachers trained.

Default ratios, each with its source (override any of them with ``StaffRatios(...)`` or
``seats forecast --ratio primary=19``):

- primary: one post (教职工编制) per 19 pupils and junior one per 13.5: the city standard of
  《中小学教职工编制标准》 (国办发〔2001〕74号, 城市 小学 1:19, 初中 1:13.5), which
  中央编办 教育部 财政部《关于统一城乡中小学教职工编制标准的通知》 (中央编办发〔2014〕72号)
  made the standard for county and rural schools too;
- kindergarten: two full-time teachers (专任教师) per class, and one staff member (教职工) per
  7 children: 《幼儿园教职工配备标准（暂行）》 (教育部 教师〔2013〕1号): a full-day kindergarten
  has 2 专任教师 and 1 保育员 per class, and 教职工 : 幼儿 of 1:5 to 1:7 (we take the 1:7 end).

The plan re-sets the district's posts every three years from the pupils ("依据生源变化每三年核定
一次全区教职工编制总量"); the forecast reports them for 2021, 2024, 2027 and 2030.

Trained share (学前教育专任教师接受专业教育的比例, the plan's only binding indicator: 65 in 2020,
80 by 2025): kindergartens keep their 2020 teachers per class; every year ``attrition`` of the
teachers leave (trained or not alike), kindergartens hire what their classes need beyond those
who stay (no one is laid off when classes fall), and ``hires_trained`` of the hires are trained.
``attrition`` 5 % and ``hires_trained`` 95 % are our assumptions, not from a source; change
them with ``--ratio``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

CYCLE_YEARS = (2021, 2024, 2027, 2030)  # the plan's three-year 编制 cycle


@dataclass(frozen=True)
class StaffRatios:
    primary: float = 19.0  # pupils per post, 国办发〔2001〕74号 / 中央编办发〔2014〕72号
    junior: float = 13.5  # pupils per post, same source
    kindergarten_per_class: float = 2.0  # 专任教师 per class, 教师〔2013〕1号
    kindergarten_staff: float = 7.0  # children per 教职工, 教师〔2013〕1号 (1:5-1:7)
    attrition: float = 0.05  # a year, assumption
    hires_trained: float = 0.95  # assumption

    def with_overrides(self, pairs: list[str]) -> StaffRatios:
        """`KEY=VALUE` texts (e.g. from --ratio) replace defaults; ValueError names the bad one."""
        names = {f.name for f in fields(self)}
        changes = {}
        for text in pairs:
            key, sep, value = text.partition("=")
            key = key.strip()
            if not sep or key not in names:
                raise ValueError(
                    f"--ratio {text!r}: expected KEY=VALUE, KEY one of {sorted(names)}"
                )
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"--ratio {text!r}: {value!r} is not a number") from None
            if number < 0 or (number == 0 and key not in ("attrition", "hires_trained")):
                raise ValueError(f"--ratio {text!r}: must be positive")
            changes[key] = number
        return replace(self, **changes)


SOURCES = {
    "primary": "国办发〔2001〕74号 城市小学 1:19; 中央编办发〔2014〕72号 城乡统一",
    "junior": "国办发〔2001〕74号 城市初中 1:13.5; 中央编办发〔2014〕72号 城乡统一",
    "kindergarten_per_class": "教师〔2013〕1号 全日制每班2名专任教师",
    "kindergarten_staff": "教师〔2013〕1号 教职工与幼儿比 1:5-1:7 (1:7)",
    "attrition": "assumption",
    "hires_trained": "assumption",
}


def trained_share(
    classes: np.ndarray, teachers_2020: int, trained_2020: int, classes_2020: float, r: StaffRatios
) -> np.ndarray:
    """float64[runs, years]: the trained share each year, from kindergarten classes[runs, years]."""
    per_class = teachers_2020 / classes_2020 if classes_2020 > 0 else r.kindergarten_per_class
    teachers = np.full(classes.shape[0], float(teachers_2020))
    trained = np.full(classes.shape[0], float(trained_2020))
    out = np.zeros(classes.shape, dtype=np.float64)
    for y in range(classes.shape[1]):
        stay = teachers * (1.0 - r.attrition)
        trained = trained * (1.0 - r.attrition)
        need = classes[:, y] * per_class
        hires = np.maximum(need - stay, 0.0)
        trained = trained + hires * r.hires_trained
        teachers = stay + hires
        out[:, y] = np.divide(trained, teachers, out=np.zeros_like(teachers), where=teachers > 0)
    return out
