"""The package layout: each room of seats/ imports only from the rooms below it (README, Layout)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# room -> the rooms it may import from (besides itself and the package root's __version__)
ALLOWED = {
    "seats.io": set(),
    "seats.lottery": {"seats.io"},
    "seats.classes": {"seats.io", "seats.lottery"},
    "seats.supervision": {"seats.io", "seats.lottery", "seats.classes"},
    "sim": {"seats.io", "seats.lottery"},
    "seats.top": {"seats.io", "seats.lottery", "seats.classes", "seats.supervision", "sim"},
}


def room_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "sim":
        return "sim"
    if len(parts) > 1 and f"seats.{parts[1]}" in ALLOWED:
        return f"seats.{parts[1]}"
    return "seats.top"  # seats.cli, seats.demo, seats.__main__, the package itself


def imports_of(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8-sig"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from seats import classes` imports the room seats.classes
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in ("seats", "sim")]


def test_imports_only_point_down():
    wrong = []
    for path in sorted([*ROOT.glob("seats/**/*.py"), *ROOT.glob("sim/**/*.py")]):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        room = room_of(module)
        for line, name in imports_of(path):
            if name in ("seats", "seats.__version__"):
                continue
            target = room_of(name)
            if target != room and target not in ALLOWED[room]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {room} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_every_room_says_what_it_holds_and_may_import():
    for room in ("io", "lottery", "classes", "supervision"):
        doc = ast.get_docstring(ast.parse((ROOT / "seats" / room / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), room
