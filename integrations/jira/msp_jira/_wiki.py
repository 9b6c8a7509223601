"""Render a :class:`Summary` as Jira wiki markup (Jira Server / Data Center, REST v2).

User text is **escaped, not wrapped**. Wrapping it in ``{noformat}`` would be undone by a text
that itself contains ``{noformat}``; escaping has no such way out:

* every character that starts or ends wiki markup (``* _ ? - + ^ ~ { } [ ] | ! #``) gets a
  backslash, Jira's escape, so ``*bold*``, ``{code}``, ``[link|x]``, ``!image.png!`` and table
  pipes show as typed;
* a backslash itself becomes the HTML entity ``&#92;`` (a literal backslash before markup has
  no other spelling in wiki markup), so user text can never form an escape or a ``\\\\`` break;
* a line break becomes the wiki line break ``\\\\`` (with spaces around it), so user text never
  starts a line of its own and line-start markup (``h1.``, ``bq.``, ``*``, ``#``, ``----``,
  ``||``) cannot take effect;
* control characters are dropped (see :func:`msp_jira._summary.clean`).

Our own markup is fixed text around the escaped values: ``h3.``/``h4.`` headings, ``*Label:*``
labels and ``* `` list items.
"""

from __future__ import annotations

from ._summary import Detail, Item, Summary

#: Characters that begin or end wiki markup; each is written with a backslash before it.
SPECIAL = frozenset("*_?-+^~{}[]|!#")
BACKSLASH_ENTITY = "&#92;"
LINE_BREAK = " \\\\ "


def escape(text: str) -> str:
    """``text`` as wiki markup that renders exactly as ``text`` (line breaks as breaks)."""
    out: list[str] = []
    for ch in text:
        if ch == "\\":
            out.append(BACKSLASH_ENTITY)
        elif ch in SPECIAL:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append(LINE_BREAK)
        else:
            out.append(ch)
    return "".join(out)


def _labelled(detail: Detail) -> str:
    return f"*{escape(detail.label)}:* {escape(detail.text)}"


def _item(item: Item) -> str:
    lead = f"*\\[{escape(item.tag)}\\]* " if item.tag else ""
    parts = [lead + escape(item.text), *(_labelled(d) for d in item.details)]
    return "* " + LINE_BREAK.join(parts)


def render(summary: Summary) -> str:
    """The wiki-markup body for a summary."""
    lines = [f"h3. {escape(summary.title)}", ""]
    lines += [_labelled(fact) for fact in summary.facts]
    if summary.empty_note:
        lines += ["", f"_{escape(summary.empty_note)}_"]
    for section in summary.sections:
        lines += ["", f"h4. {escape(section.title)}"]
        lines += [_item(item) for item in section.items]
        if section.more:
            lines.append(f"_{escape(section.more_text)}_")
    lines += ["", f"_{escape(summary.footer)}_"]
    return "\n".join(lines)
