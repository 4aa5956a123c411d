"""Form layout in one place: every label and button shows its whole text (ipywidgets cuts both at a fixed width)."""

from __future__ import annotations

from typing import Any


def tab_titles_in_full(form_class: str) -> Any:
    """Return a style element (an HTML widget) that shows the whole title of every tab of a form's Tab widgets.

    A Tab shrinks its titles to share one row ("Host ch..."); this lets each title take its own width and
    the row wrap. Put it in the form whose root has the CSS class ``form_class``.
    """
    import ipywidgets as widgets

    scope = f".{form_class} .lm-TabBar"
    return widgets.HTML(f"<style>{scope} .lm-TabBar-content{{flex-wrap:wrap}}"
                        f"{scope} .lm-TabBar-tab{{flex:0 0 auto;min-width:fit-content;max-width:none}}</style>")


def fit_text(root: Any) -> Any:
    """Make every label, button and toggle under ``root`` as wide as its text; return ``root``.

    ipywidgets 8 gives descriptions and buttons fixed widths and cuts longer text with an
    ellipsis ("Preview (dry r...", "Onto bran...", "near N" shown as "1"). A width a form set
    itself is kept.
    """
    import ipywidgets as widgets

    seen: set[int] = set()
    stack = [root]
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        style = getattr(w, "style", None)
        if style is not None and "description_width" in style.keys and not style.description_width \
                and getattr(w, "description", ""):
            style.description_width = "initial"
        if isinstance(w, widgets.ToggleButtons) and style is not None and not style.button_width:
            style.button_width = "auto"
        if isinstance(w, (widgets.Button, widgets.ToggleButton, widgets.Checkbox)) and not w.layout.width:
            w.layout.width = "auto"
            if not isinstance(w, widgets.Checkbox):
                w.layout.min_width = "fit-content"
        stack.extend(getattr(w, "children", ()) or ())
    return root
