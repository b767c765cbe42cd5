"""Print the settings table (markdown) from core.settings.Settings; the README embeds it
between <!-- settings:begin --> and <!-- settings:end --> (tests keep them in step)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from huituan.core.settings import Settings  # noqa: E402


def settings_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if hasattr(default, "value"):
            default = default.value
        shown = f"`{default}`" if default not in ("", None) else "(empty)"
        lines.append(f"| `HUITUAN_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(lines)


def update_readme(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    begin, end = "<!-- settings:begin -->", "<!-- settings:end -->"
    a, b = text.index(begin) + len(begin), text.index(end)
    new = text[:a] + "\n" + settings_table() + "\n" + text[b:]
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--update":
        changed = update_readme(Path(__file__).resolve().parents[1] / "README.md")
        print("README updated" if changed else "README already up to date")
    else:
        print(settings_table())
