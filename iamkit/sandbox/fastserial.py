"""A sandbox-only speed-up of moto's response serializer, byte-identical to moto 5.2.5's own output.

Why: a 20 x 500 sandbox spends most of its server CPU in ``moto/core/serialize.py``: for every attribute
of every object, ``XFormedAttributePicker`` builds six alias-provider objects to find which attribute
names to try, and ``xmltodict.unparse`` walks the result through SAX's ``XMLGenerator``. The alias list
is a pure function of the object's class, the shape, its parent shape and the key (only the ``Meta``
explicit alias is read from the object, and that is still read on every call), so it is memoized on the
shape; the response transformers are looked up once per key path; and the XML is written by a direct
emitter that reproduces ``xmltodict.unparse`` for plain values and hands anything else back to xmltodict.
Smaller costs go too: the request-id regex runs from the first ``<RequestId>`` instead of over the whole
body, the response class's method names are listed once per class, and a datetime already formatted
(the same role dates on every listing) is not formatted again.

Every replacement is checked byte for byte against moto's own code by ``tests/sandbox/test_fastserial.py``
(live responses of IAM, STS, Organizations, S3, KMS, SSO Admin, ... and property tests).

``apply()`` installs it when moto is exactly :data:`PINNED_MOTO_VERSION` and ``IAMKIT_SANDBOX_FAST_SERIALIZER``
is not ``0``; ``remove()`` restores moto's own functions. ``start_server`` calls :func:`apply_for_sandbox`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

PINNED_MOTO_VERSION = "5.2.5"
ENV_SWITCH = "IAMKIT_SANDBOX_FAST_SERIALIZER"
_OFF_VALUES = {"0", "false", "no", "off"}
_CACHE_ATTR = "_iamkit_fastserial_keys"
_NO_PARENT = object()
_UNSET = object()

_lock = threading.Lock()
_originals: dict[str, Any] = {}  # what apply() replaced; empty when not applied
_picker_class: type | None = None
fast_get_value: Callable[..., Any] | None = None  # set by _make_picker_class()
stats = {"fast_xml": 0, "xmltodict_xml": 0}  # documents written by the fast emitter / handed to xmltodict
_transform_caches: dict[tuple[tuple[str, Callable[[Any], Any]], ...], dict[str, Any]] = {}


# --------------------------------------------------------------------------------------------------
# XML: a direct emitter equal to xmltodict.unparse(d, full_document=..., short_empty_elements=...) for
# dicts / lists / tuples / str / bool / int / float / None; anything else raises _Fallback.
# --------------------------------------------------------------------------------------------------


class _Fallback(Exception):  # noqa: N818 - internal control flow, not an error
    """The input has something the fast emitter does not reproduce: use xmltodict itself."""


_valid_names: set[str] = set()  # element/attribute names already validated (they come from the shapes)
_MAX_NAMES = 50_000
_SCALARS = (str, bool, int, float)
_NAME_FORBIDDEN = ("<", ">", "/", '"', "'", "=")


def _check_name(name: Any) -> str:
    """``name`` when xmltodict's ``_validate_name`` accepts it, else _Fallback (xmltodict raises its own error)."""
    if name.__class__ is not str or name == "#comment":  # other types, comments: let xmltodict decide
        raise _Fallback
    if name in _valid_names:
        return name
    if name.startswith(("?", "!")) or any(c in name for c in _NAME_FORBIDDEN) or any(ch.isspace() for ch in name):
        raise _Fallback
    if len(_valid_names) < _MAX_NAMES:
        _valid_names.add(name)
    return name


def _scalar_text(value: Any) -> str:
    """xmltodict's ``_convert_value_to_string`` for the scalar types the fast path handles."""
    cls = value.__class__
    if cls is str:
        return value
    if cls is bool:
        return "true" if value else "false"
    if cls is int or cls is float:
        return str(value)
    raise _Fallback


def _escape(data: str) -> str:
    """``xml.sax.saxutils.escape`` (ampersand first)."""
    if "&" in data:
        data = data.replace("&", "&amp;")
    if ">" in data:
        data = data.replace(">", "&gt;")
    if "<" in data:
        data = data.replace("<", "&lt;")
    return data


def _quoteattr(data: str) -> str:
    """``xml.sax.saxutils.quoteattr``."""
    data = _escape(data).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' in data:
        if "'" in data:
            return '"%s"' % data.replace('"', "&quot;")  # noqa: UP031 - same formatting as saxutils
        return "'%s'" % data  # noqa: UP031
    return '"%s"' % data  # noqa: UP031


def _fast_unparse(input_dict: Any, full_document: bool, short_empty_elements: bool) -> str:
    """The XML text xmltodict.unparse would produce (non-pretty, default keys); _Fallback when unsure.

    Each element's start tag is closed after its content is known (a slot in ``parts`` holds its
    attributes and ">"), which is what XMLGenerator's pending start element amounts to.
    """
    if not isinstance(input_dict, dict):
        raise _Fallback
    parts: list[str] = []
    write = parts.append
    valid = _valid_names
    short = short_empty_elements

    def element(key: str, v: Any) -> None:
        cls = v.__class__
        if cls is str:
            text = v
        elif v is None or isinstance(v, dict):
            if v is None:
                v = {}
            write("<" + key)
            slot = len(parts)
            write("")
            attrs: dict[str, str] | None = None
            cdata = None
            for ik, iv in v.items():
                if ik == "#text":
                    cdata = None if iv is None else _scalar_text(iv)
                    continue
                if ik.__class__ is str and ik[:1] == "@":
                    if ik == "@xmlns" and isinstance(iv, dict):
                        raise _Fallback
                    if attrs is None:
                        attrs = {}
                    attrs[_check_name(ik[1:])] = "" if iv is None else _scalar_text(iv)
                    continue
                ivc = iv.__class__
                if ivc is list or ivc is tuple:
                    if ivc is list and not iv:
                        continue
                    if ik not in valid or ik.__class__ is not str:
                        _check_name(ik)
                    for item in iv:
                        if item.__class__ is list or item.__class__ is tuple:
                            raise _Fallback
                        element(ik, item)
                else:
                    if ik not in valid or ik.__class__ is not str:
                        _check_name(ik)
                    element(ik, iv)
            head = "".join(f" {n}={_quoteattr(t)}" for n, t in attrs.items()) if attrs else ""
            if cdata:
                if "&" in cdata or "<" in cdata or ">" in cdata:
                    cdata = _escape(cdata)
                write(cdata)
            if len(parts) > slot + 1:
                parts[slot] = head + ">"
                write("</" + key + ">")
            elif short:
                parts[slot] = head + "/>"
            else:
                parts[slot] = head + "></" + key + ">"
            return
        else:
            text = _scalar_text(v)
        if text:
            if "&" in text or "<" in text or ">" in text:
                text = _escape(text)
            write("<" + key + ">" + text + "</" + key + ">")
        elif short:
            write("<" + key + "/>")
        else:
            write("<" + key + "></" + key + ">")

    if full_document:
        write('<?xml version="1.0" encoding="utf-8"?>\n')
    roots = 0
    for key, value in input_dict.items():
        if full_document and roots:
            raise _Fallback
        _check_name(key)
        if value.__class__ is list or value.__class__ is tuple:
            if full_document and len(value) > 1:
                raise _Fallback
            for item in value:
                if item.__class__ is list or item.__class__ is tuple:
                    raise _Fallback
                element(key, item)
        else:
            element(key, value)
        roots += 1
    if full_document and not roots:
        raise _Fallback
    return "".join(parts)


def unparse(
    input_dict: Any,
    output: Any = None,
    encoding: str = "utf-8",
    full_document: bool = True,
    short_empty_elements: bool = False,
    comment_key: str = "#comment",
    **kwargs: Any,
) -> Any:
    """Drop-in for ``xmltodict.unparse``: the fast emitter for what moto passes, xmltodict for the rest."""
    import xmltodict

    simple = (
        output is None
        and encoding == "utf-8"
        and comment_key == "#comment"
        and not kwargs.get("pretty")
        and set(kwargs) <= {"pretty"}
    )
    if simple:
        try:
            text = _fast_unparse(input_dict, full_document, short_empty_elements)
            stats["fast_xml"] += 1
            return text
        except _Fallback:
            pass
    stats["xmltodict_xml"] += 1
    return xmltodict.unparse(
        input_dict,
        output=output,
        encoding=encoding,
        full_document=full_document,
        short_empty_elements=short_empty_elements,
        comment_key=comment_key,
        **kwargs,
    )


class _XmlToDictShim:
    """Stands in for the ``xmltodict`` module inside ``moto.core.serialize`` only: ``unparse`` is ours."""

    unparse = staticmethod(unparse)

    def __getattr__(self, name: str) -> Any:
        import xmltodict

        return getattr(xmltodict, name)


# --------------------------------------------------------------------------------------------------
# Attribute picking: moto's XFormedAttributePicker with the alias list memoized.
# --------------------------------------------------------------------------------------------------


def _transform_cache(transformers: dict[str, Callable[[Any], Any]]) -> dict[str, Any]:
    """The key-path -> transformer memo shared by every picker with these exact transformers."""
    snapshot = tuple(transformers.items())
    cache = _transform_caches.get(snapshot)
    if cache is None:
        cache = _transform_caches.setdefault(snapshot, {})
    return cache


def _make_picker_class() -> type:
    """Build (once) the subclass of moto's XFormedAttributePicker that ``fast_get_value`` recognises, and
    ``fast_get_value`` itself (module global): moto's ``ResponseSerializer.get_value`` with the alias list
    memoized per (object class, key) on the shape, checked against the shape's parent."""
    global _picker_class, fast_get_value
    if _picker_class is not None:
        return _picker_class
    from botocore import xform_name
    from moto.core import serialize as ms

    default_order = [
        ms.ExplicitAlias,
        ms.ShapeNameAlias,
        ms.NoAlias,
        ms.ShapePrefixAlias,
        ms.ClassPrefixAlias,
        ms.ModelAlias,
    ]
    rest_providers = default_order[1:]  # everything after ExplicitAlias: a function of class, key, shape, parent
    get_value = ms.get_value
    missing = ms.MISSING
    context_cls = ms.AttributePickerContext
    moto_get_value = ms.ResponseSerializer.get_value  # moto's own (apply() has not run yet here)

    class FastXFormedAttributePicker(ms.XFormedAttributePicker):
        """moto's XFormedAttributePicker; ``fast_get_value`` does its work for it when the providers are
        moto's defaults, keeping the transformer lookups per key path."""

        def __init__(self, alias_providers: Any = None, response_transformers: Any = None) -> None:
            super().__init__(alias_providers=alias_providers, response_transformers=response_transformers)
            self.memo_ok = list(self.alias_providers) == default_order
            self.tcache = _transform_cache(self.response_transformers) if self.response_transformers else None

    def rest_keys(obj: Any, key: str, shape: Any, parent: Any) -> tuple[Any, tuple[str, ...], bool]:
        """(parent, possible keys after the explicit alias, all plain str keys without a dot)."""
        context = context_cls(obj=obj, key=key, shape=shape)
        found: list[str] = []
        for provider_cls in rest_providers:
            provider = provider_cls(context)
            if provider.has_alias(key):
                alias = provider.get_alias(key)
                found += (alias, xform_name(alias))
        return parent, tuple(found), all(k.__class__ is str and "." not in k for k in found)

    def get_value_fast(self: Any, value: Any, key: str, shape: Any) -> Any:
        """What moto's ``ResponseSerializer.get_value`` returns, without building alias providers per call."""
        picker = self._value_picker
        if picker.__class__ is not FastXFormedAttributePicker or shape is None or not picker.memo_ok:
            return moto_get_value(self, value, key, shape)
        obj = value
        value = missing
        meta = getattr(obj, "Meta", missing)  # ExplicitAlias: read from the object every time
        if meta is not missing and hasattr(meta, "serialization_aliases") and key in meta.serialization_aliases:
            alias = meta.serialization_aliases[key]
            value = get_value(obj, alias, missing)
            if value is missing:
                value = get_value(obj, xform_name(alias), missing)
        if value is missing:
            memo = shape.__dict__.get(_CACHE_ATTR)
            if memo is None:
                memo = shape.__dict__.setdefault(_CACHE_ATTR, {})
            parent = getattr(shape, "parent", _NO_PARENT)
            mk = (obj.__class__, key)
            entry = memo.get(mk)
            if entry is None or entry[0] is not parent:
                try:
                    entry = rest_keys(obj, key, shape, parent)
                except Exception:  # noqa: BLE001 - moto evaluates providers lazily: let it fail (or not) its way
                    return moto_get_value(self, obj, key, shape)
                memo[mk] = entry
            if not entry[2]:
                for possible_key in entry[1]:  # moto's get_value as is (a dotted path, a non-str key)
                    value = get_value(obj, possible_key, missing)
                    if value is not missing:
                        break
                else:
                    value = None
            elif not hasattr(obj, "__getitem__"):
                for possible_key in entry[1]:  # moto's get_value on an object, inlined
                    value = getattr(obj, possible_key, missing)
                    if value is not missing:
                        break
                else:
                    value = None
            else:
                for possible_key in entry[1]:  # moto's get_value on a mapping/sequence, inlined
                    try:
                        value = obj[possible_key]
                        break
                    except (KeyError, IndexError, TypeError, AttributeError):
                        pass
                else:
                    value = None
        tcache = picker.tcache
        if tcache is not None:
            key_path = f"{'.'.join(self.path)}.{key}"
            transform = tcache.get(key_path, _UNSET)
            if transform is _UNSET:
                transform = None
                for transform_path, fn in picker.response_transformers.items():
                    if key_path.endswith(transform_path):
                        transform = fn
                        break
                tcache[key_path] = transform
            if transform is not None:
                value = transform(value)
        return value

    get_value_fast.__doc__ = moto_get_value.__doc__ or get_value_fast.__doc__
    fast_get_value = get_value_fast
    _picker_class = FastXFormedAttributePicker
    return _picker_class


# --------------------------------------------------------------------------------------------------
# Request id: moto's BaseResponse._enrich_response runs a look-behind regex over the whole body.
# --------------------------------------------------------------------------------------------------

_REQUEST_ID_RE = r"(?<=<RequestId>).*(?=<\/RequestId>)"  # moto 5.2.5's pattern, verbatim


def _make_enrich_response() -> Callable[[dict[str, str], Any], tuple[dict[str, str], Any]]:
    """moto's ``_enrich_response`` with the regex run from the first ``<RequestId>`` on (a match can only
    start right after one, and looks back no further than it), so the result is the same string."""
    from moto.core import responses as mr

    def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if "status" in headers:
            headers["status"] = str(headers["status"])
        request_id = mr.gen_amzn_requestid_long(headers)
        try:
            if body.__class__ is str:
                start = body.find("<RequestId>")
                if start >= 0:
                    body = body[:start] + re.sub(_REQUEST_ID_RE, request_id, body[start:])
            else:
                body = re.sub(_REQUEST_ID_RE, request_id, body)
        except Exception:  # noqa: BLE001, S110 - moto ignores it the same way
            pass
        return headers, body

    return _enrich_response


# --------------------------------------------------------------------------------------------------
# Timestamps: the same datetime objects (role and policy dates) are formatted again on every listing.
# --------------------------------------------------------------------------------------------------

_timestamps: dict[tuple[Any, ...], Any] = {}
_MAX_TIMESTAMPS = 200_000


def _memo_timestamps(original: Callable[[Any, Any, str], Any]) -> Callable[[Any, Any, str], Any]:
    """moto's ``TimestampSerializer._convert_timestamp_to_str`` remembered for exact ``datetime`` values.

    The key holds the serializer class, the format, the value, its tzinfo object (by identity) and fold:
    two such keys are equal only for datetimes with the same fields, tzinfo and fold, which format the same.
    """

    def _convert_timestamp_to_str(self: Any, value: Any, timestamp_format: str) -> Any:
        if value.__class__ is not datetime:
            return original(self, value, timestamp_format)
        key = (self.__class__, timestamp_format, value, id(value.tzinfo), value.fold)
        text = _timestamps.get(key, _UNSET)
        if text is _UNSET:
            text = original(self, value, timestamp_format)
            if len(_timestamps) >= _MAX_TIMESTAMPS:
                _timestamps.clear()
            _timestamps[key] = text
        return text

    return _convert_timestamp_to_str


# --------------------------------------------------------------------------------------------------
# Dispatch: moto lists a response class's methods with inspect.getmembers on every request.
# --------------------------------------------------------------------------------------------------

_method_names: dict[type, list[str]] = {}


def _memo_method_names(original: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    """moto's ``method_names_from_class`` remembered per class (response classes do not grow methods)."""

    def method_names_from_class(clazz: Any) -> list[str]:
        names = _method_names.get(clazz)
        if names is None:
            names = _method_names[clazz] = original(clazz)
        return list(names)

    return method_names_from_class


# --------------------------------------------------------------------------------------------------
# Installing / removing
# --------------------------------------------------------------------------------------------------


def moto_version() -> str:
    """The installed moto version."""
    import moto

    return str(moto.__version__)


def switched_off() -> bool:
    """True when ``IAMKIT_SANDBOX_FAST_SERIALIZER`` is 0/false/no/off."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() in _OFF_VALUES


def applied() -> bool:
    """True while the fast serializer is installed."""
    return bool(_originals)


def apply() -> bool:
    """Install the fast serializer into moto (idempotent); False (and a log line) on another moto version."""
    version = moto_version()
    if version != PINNED_MOTO_VERSION:
        log.warning(
            "fast sandbox serializer not applied: moto is %s, it is written for moto %s", version, PINNED_MOTO_VERSION
        )
        return False
    with _lock:
        if _originals:
            return True
        from moto.core import responses as mr
        from moto.core import serialize as ms

        picker_cls = _make_picker_class()
        original_get_value = ms.ResponseSerializer.get_value
        _originals.update(
            picker=mr.XFormedAttributePicker,
            get_value=original_get_value,
            xmltodict=ms.xmltodict,
            enrich=mr.BaseResponse.__dict__["_enrich_response"],
            method_names=mr.method_names_from_class,
            timestamps=ms.TimestampSerializer.__dict__["_convert_timestamp_to_str"],
        )
        mr.XFormedAttributePicker = picker_cls
        ms.ResponseSerializer.get_value = fast_get_value
        ms.xmltodict = _XmlToDictShim()
        mr.BaseResponse._enrich_response = staticmethod(_make_enrich_response())
        mr.method_names_from_class = _memo_method_names(_originals["method_names"])
        ms.TimestampSerializer._convert_timestamp_to_str = _memo_timestamps(_originals["timestamps"])
    return True


def remove() -> None:
    """Put moto's own functions back (no-op when not applied)."""
    with _lock:
        if not _originals:
            return
        from moto.core import responses as mr
        from moto.core import serialize as ms

        mr.XFormedAttributePicker = _originals["picker"]
        ms.ResponseSerializer.get_value = _originals["get_value"]
        ms.xmltodict = _originals["xmltodict"]
        mr.BaseResponse._enrich_response = _originals["enrich"]
        mr.method_names_from_class = _originals["method_names"]
        ms.TimestampSerializer._convert_timestamp_to_str = _originals["timestamps"]
        _method_names.clear()
        _timestamps.clear()
        _originals.clear()


def apply_for_sandbox() -> bool:
    """What ``start_server`` calls: apply unless switched off by the environment; True when active."""
    if switched_off():
        log.info("fast sandbox serializer off (%s=%s)", ENV_SWITCH, os.environ.get(ENV_SWITCH))
        remove()
        return False
    return apply()
