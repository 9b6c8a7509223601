"""CLIXML (the PSRP object serialisation) straight to plain Python, by structure.

pypsrp 0.9 only knows a fixed list of .NET types; anything else (an OrderedDictionary, a
PSCustomObject) comes back as a generic object holding its raw XML, an ordered dictionary's
entries even as an unparsed ``<DCT>`` string. Reading that XML by its structure (dictionary,
list, properties, primitives) gives the same plain values psrpcore gives, whatever the type.
Type names are not needed for that, so references to type names outside the fragment are fine.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_INTS = {"By", "SB", "U16", "I16", "U32", "I32", "U64", "I64"}
_FLOATS = {"Sg", "Db", "D"}
_TEXTS = {"S", "DT", "TS", "G", "URI", "Version", "XD", "SBK", "ToString"}
_LISTS = ("LST", "IE", "QUE", "STK")


def _unescape(text: str | None) -> str:
    """Undo PSRP's ``_xHHHH_`` escapes (UTF-16 code units; adjacent ones may form a pair)."""
    if not text:
        return ""
    out: list[str] = []
    units = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(text):
        if match.start() != pos:
            if units:
                out.append(units.decode("utf-16-be", "replace"))
                units.clear()
            out.append(text[pos:match.start()])
        units += bytes.fromhex(match.group(1))
        pos = match.end()
    if units:
        out.append(units.decode("utf-16-be", "replace"))
    out.append(text[pos:])
    return "".join(out)


class _Reader:
    def __init__(self) -> None:
        self.refs: dict[str, Any] = {}

    def value(self, el: ElementTree.Element) -> Any:
        tag = el.tag
        if tag == "Nil":
            return None
        if tag == "Ref":
            return self.refs.get(el.attrib.get("RefId", ""))
        if tag == "B":
            return (el.text or "").strip().lower() == "true"
        if tag in _INTS:
            return int((el.text or "0").strip())
        if tag in _FLOATS:
            return float((el.text or "0").strip())
        if tag == "C":
            return chr(int((el.text or "0").strip()))
        if tag == "BA":
            return (el.text or "").strip()
        if tag == "SS":
            return "***"  # a SecureString is never turned back into text here
        if tag in _TEXTS:
            return _unescape(el.text)
        if tag == "Obj":
            return self.obj(el)
        if tag == "DCT":
            return self.dct(el)
        if tag in _LISTS:
            return [self.value(child) for child in el]
        return _unescape(el.text)

    def dct(self, el: ElementTree.Element) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for entry in el.findall("En"):
            key = entry.find("*[@N='Key']")
            value = entry.find("*[@N='Value']")
            out[str(self.value(key)) if key is not None else ""] = self.value(value) if value is not None else None
        return out

    def obj(self, el: ElementTree.Element) -> Any:
        ref = el.attrib.get("RefId")
        children = {child.tag: child for child in el}
        result: Any
        if "DCT" in children:
            result = {}
            if ref is not None:
                self.refs[ref] = result
            result.update(self.dct(children["DCT"]))
            return result
        for name in _LISTS:
            if name in children:
                result = []
                if ref is not None:
                    self.refs[ref] = result
                result.extend(self.value(child) for child in children[name])
                return result
        for child in el:
            if child.tag not in ("TN", "TNRef", "ToString", "Props", "MS") and "N" not in child.attrib:
                result = self.value(child)  # an extended primitive: the value itself
                if ref is not None:
                    self.refs[ref] = result
                return result
        props: dict[str, Any] = {}
        if ref is not None:
            self.refs[ref] = props
        for section in ("Props", "MS"):
            block = children.get(section)
            if block is not None:
                for prop in block:
                    props[_unescape(prop.attrib.get("N", ""))] = self.value(prop)
        if props:
            return props
        if "ToString" in children:
            text = _unescape(children["ToString"].text)
            if ref is not None:
                self.refs[ref] = text
            return text
        return props


def from_clixml(xml: str | bytes) -> Any:
    """One serialised object (an ``<Obj>`` or any value element) as plain Python."""
    return _Reader().value(ElementTree.fromstring(xml))
