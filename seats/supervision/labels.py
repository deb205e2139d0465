"""The words people read: results, tiers and reserves in Chinese first, as the policy names them.

A tier or reserve is shown by the policy's ``label`` (e.g. ``label = "片区内户籍+房产一致"``); a
policy without labels shows the default tiers in Chinese and any other tier by its name.
"""

from __future__ import annotations

import math

OPEN_LABEL = "其余申请人"
DEFAULT_TIER_LABELS = {"sibling": "同胞优先", "same_zone": "片区内", "open": OPEN_LABEL}

STATUS_ZH = {
    "placed": "志愿录取",
    "assigned": "统筹安排",
    "unplaced": "未录取",
    "ineligible": "不符合条件",
}
STATUS_EN = {
    "placed": "admitted by choice",
    "assigned": "assigned (nearest school with seats)",
    "unplaced": "not placed",
    "ineligible": "not eligible",
}


def tier_labels(policy: dict) -> dict[str, str]:
    """tier name -> what people read, for every tier of a recorded policy and ``open``."""
    labels = {
        tier["name"]: tier.get("label") or DEFAULT_TIER_LABELS.get(tier["name"], tier["name"])
        for tier in policy.get("tiers", [])
    }
    labels.setdefault("open", OPEN_LABEL)
    return labels


def reserve_labels(policy: dict) -> dict[str, str]:
    return {r["name"]: r.get("label") or r["name"] for r in policy.get("reserves", []) or []}


def status_text(status: str, choice_rank: str = "") -> str:
    """placed + rank 2 -> 第2志愿录取; the others by STATUS_ZH."""
    if status == "placed" and choice_rank:
        return f"第{choice_rank}志愿录取"
    return STATUS_ZH.get(status, status)


def school_text(school_id: str, names: dict[str, str]) -> str:
    """新道街小学 (P15): the name first, the id beside it for the lists that use ids."""
    name = names.get(school_id, "")
    return f"{name}（{school_id}）" if name else school_id


CUTOFF_ANONYMITY = 20  # applicants sharing the published digits of a cutoff number, at least


def cutoff_digits(applicants: int) -> int:
    """Hex digits of a cutoff number that may be published: at least CUTOFF_ANONYMITY
    applicants share any such prefix on average (0 for small lotteries)."""
    if applicants < CUTOFF_ANONYMITY * 16:
        return 0
    return math.floor(math.log(applicants / CUTOFF_ANONYMITY, 16))


def public_cutoff(tier_label: str, number: str, applicants: int) -> tuple[str, str]:
    """The cutoff as it may be told to anyone (Chinese, English): the tier of the last child
    admitted and the first digits of its number, never the number. `seats explain` should
    print this instead of the last admitted child's number."""
    digits = cutoff_digits(applicants)
    if not number:
        return (
            "未录满：未被更靠前志愿录取的报名者均已录取",
            "not full: everyone who listed it and was not admitted to an earlier choice got in",
        )
    if digits == 0:
        return f"录取至「{tier_label}」", f"admitted up to tier {tier_label}"
    prefix = number[:digits]
    return (
        f"录取至「{tier_label}」，该类号码前{digits}位 ≤ {prefix}",
        f"admitted up to tier {tier_label}, numbers whose first {digits} digits are at most "
        f"{prefix}",
    )


def reason_zh(reason: str) -> str:
    """The ineligibility reason in Chinese: "born after 2015-08-31" -> 出生日期晚于 2015-08-31."""
    bound = reason.split()[-1] if reason else ""
    if reason.startswith("born after "):
        return f"出生日期晚于 {bound}（未满龄）"
    if reason.startswith("born before "):
        return f"出生日期早于 {bound}"
    return reason
