"""Sphinx configuration of the lrkit reference (``make docs``)."""

import re
from pathlib import Path

import lrkit

project = "lrkit"
author = "the lrkit developers"
copyright = "2026, the lrkit developers"
release = version = lrkit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]
autosummary_generate = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
html_theme = "pydata_sphinx_theme"
html_title = "lrkit"
html_theme_options = {"navigation_with_keys": False, "show_prev_next": False,
                      "secondary_sidebar_items": [], "header_links_before_dropdown": 4}
html_sidebars = {"**": []}  # one level of pages: no empty section navigation beside them
html_static_path = ["_static"]
html_css_files = ["lrkit.css"]
exclude_patterns = ["_build"]
suppress_warnings = ["config.cache"]

# The capability pages show the guided tour's examples (docs/tour.md), taken from it at
# every build (the test suite runs the same blocks), so the two never drift apart.
ROOT = Path(__file__).resolve().parents[2]
GENERATED = Path(__file__).parent / "_generated"
GENERATED.mkdir(exist_ok=True)
for section in re.split(r"^## ", (ROOT / "docs" / "tour.md").read_text(), flags=re.M)[1:]:
    title, _, body = section.partition("\n")
    blocks = re.findall(r"```(python|bash)\n(.*?)```", body, flags=re.S)
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    for lang in ("python", "bash"):
        code = "\n".join(code for kind, code in blocks if kind == lang)
        if code:
            suffix = "py" if lang == "python" else "sh"
            (GENERATED / f"{slug}.{suffix}").write_text(code)

# The method tables come from the registries (lrkit.registry), so the documentation lists
# exactly the methods, options and defaults the code accepts.
from lrkit.registry import registries  # noqa: E402


def _cell(text):
    return str(text).replace("\n", " ").replace("|", "\\|")


def _method_tables():
    lines = ["Methods", "=======", "",
             "Every method family, its methods, what each does and its options with their "
             "defaults, read from the family's registry at every build (a new method appears "
             "here when its module registers it).", ""]
    for family, registry in sorted(registries().items()):
        lines += [family, "-" * len(family), "", f"``{registry.parameter}=`` of "
                  f"{_cell(registry.description)}", "", ".. list-table::", "   :header-rows: 1",
                  "   :widths: 15 55 30", "", "   * - method", "     - what it does",
                  "     - options"]
        for name in registry:
            options = ", ".join(f"``{key}={value!r}``"
                                for key, value in registry.defaults(name).items())
            lines += [f"   * - ``{name}``", f"     - {_cell(registry.summary(name))}",
                      f"     - {options or '—'}"]
        lines.append("")
    (GENERATED / "methods.inc").write_text("\n".join(lines))


_method_tables()
