"""Member attributes, the charter's value sets and size bands, breadth rules
(their body rules, PROTOCOL.md 6.6: MA, CS, BR, BS, VS), and breadth (12.4):
the values a proposal's endorsers show, whether they meet the breadth rules
of its adoption rule, and the tally broken down by attribute.

Representations (plain Python values):
    attributes  {"region", "phase", "trust_type": str or None,
                 "schools", "pupils": int or None, "labels": [str]}
    sets        {"regions", "phases", "trust_types": [str], "school_bands": [int]}
    breadth     {"attribute": "region" | "phase" | "trust_type" | "size_band",
                 "min_distinct": int, "each_of": [str]}
A member's value counts under the charter of the roster version: a region,
phase or trust type outside that charter's set, and anything undeclared,
count as not declared.
"""

import unicodedata

from .errors import Refused

MAX_ATTRIBUTE_VALUES = 64
MAX_ATTRIBUTE_VALUE_BYTES = 64
MAX_LABELS = 16
MAX_SCHOOL_BANDS = 16
MAX_SCHOOLS = 10_000
MAX_PUPILS = 10_000_000
MAX_BREADTH_RULES = 8
MAX_MIN_DISTINCT = 64
DEFAULT_SCHOOL_BANDS = [1, 2, 6, 16, 31]

# (key, wire number, name, plural, key of the charter's set)
ATTRIBUTES = (
    ("region", 1, "region", "regions", "regions"),
    ("phase", 2, "phase", "phases", "phases"),
    ("trust_type", 3, "trust type", "trust types", "trust_types"),
    ("size_band", 4, "size band", "size bands", None),
)
BY_NUMBER = {a[1]: a[0] for a in ATTRIBUTES}
NAME = {a[0]: a[2] for a in ATTRIBUTES}
PLURAL = {a[0]: a[3] for a in ATTRIBUTES}
SET_KEY = {a[0]: a[4] for a in ATTRIBUTES}

NO_ATTRIBUTES = {"region": None, "phase": None, "trust_type": None, "schools": None, "pupils": None, "labels": []}
NO_SETS = {"regions": [], "phases": [], "trust_types": [], "school_bands": []}


def invalid(field, reason):
    return Refused("InvalidField", f"{field}: {reason}")


# --- Quoting as the messages quote values -------------------------------------------------

# Characters that extend a grapheme but are not nonspacing or enclosing
# marks (Unicode's Other_Grapheme_Extend): quoted as escapes, like the marks.
_EXTEND = (
    {0x09BE, 0x09D7, 0x0B3E, 0x0B57, 0x0BBE, 0x0BD7, 0x0CC2, 0x0CD5, 0x0CD6, 0x0D3E, 0x0D57, 0x0DCF, 0x0DDF}
    | {0x1B35, 0x200C, 0x302E, 0x302F, 0xFF9E, 0xFF9F, 0x1133E, 0x11357, 0x114B0, 0x114BD, 0x115AF, 0x11930}
    | {0x1D165} | set(range(0x1D16E, 0x1D173)) | set(range(0xE0020, 0xE0080))
)


def quote(s):
    """A value quoted as the messages quote it: in double quotes, with
    backslash, double quote, control, invisible and combining characters
    escaped (\\n, \\", \\u{301}). Which characters are invisible or
    combining follows this Python's Unicode data: a character assigned in a
    later Unicode version than it knows may be quoted differently by the
    reference implementation (the wording only; error names do not change)."""
    out = ['"']
    for c in s:
        o = ord(c)
        if c == "\0":
            out.append("\\0")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c == "\n":
            out.append("\\n")
        elif c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        else:
            cat = unicodedata.category(c)
            hidden = cat in ("Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn") or (cat == "Zs" and c != " ")
            if hidden or cat in ("Mn", "Me") or o in _EXTEND:
                out.append(f"\\u{{{o:x}}}")
            else:
                out.append(c)
    out.append('"')
    return "".join(out)


# --- Body rules -------------------------------------------------------------------------------


def _text(field, s):
    n = len(s.encode("utf-8"))
    if n < 1:
        raise invalid(field, "must not be empty")
    if n > MAX_ATTRIBUTE_VALUE_BYTES:
        raise invalid(field, f"is {n} bytes, over the limit of {MAX_ATTRIBUTE_VALUE_BYTES}")
    for c in s:
        o = ord(c)
        if o < 0x20 or 0x7F <= o <= 0x9F:
            raise invalid(field, f"contains control character U+{o:04X}")


def value_list(field, values, most):
    """At most `most` values, each 1..=64 bytes on one line, strictly ascending by bytes."""
    if len(values) > most:
        raise invalid(field, f"lists {len(values)} values, over the limit of {most}")
    for i, v in enumerate(values):
        _text(field, v)
        if i > 0 and values[i - 1].encode("utf-8") >= v.encode("utf-8"):
            raise invalid(
                field, f"must be sorted by bytes with no value twice ({quote(v)} comes after {quote(values[i - 1])})"
            )


def member_attributes(a):
    """The body rules of MemberAttributes (absent: nothing declared; present: declares something)."""
    if a is None:
        return dict(NO_ATTRIBUTES)
    if not (a["region"] or a["phase"] or a["trust_type"] or a["schools"] or a["pupils"] or a["labels"]):
        raise invalid("member attributes", "are present but declare nothing; leave the field out")
    out = {}
    for key, field in (("region", "member region"), ("phase", "member phase"), ("trust_type", "member trust type")):
        if a[key]:
            _text(field, a[key])
        out[key] = a[key] or None
    if a["schools"] > MAX_SCHOOLS:
        raise invalid(
            "member schools", f"is {a['schools']}, over the limit of {MAX_SCHOOLS} (0 means not declared)"
        )
    if a["pupils"] > MAX_PUPILS:
        raise invalid("member pupils", f"is {a['pupils']}, over the limit of {MAX_PUPILS} (0 means not declared)")
    value_list("member labels", a["labels"], MAX_LABELS)
    out["schools"] = a["schools"] or None
    out["pupils"] = a["pupils"] or None
    out["labels"] = list(a["labels"])
    return out


def attribute_sets(s):
    """The body rules of AttributeSets (absent: empty sets, default bands; present: sets something)."""
    if s is None:
        return {k: list(v) for k, v in NO_SETS.items()}
    if not (s["regions"] or s["phases"] or s["trust_types"] or s["school_bands"]):
        raise invalid("charter attributes", "are present but set nothing; leave the field out")
    value_list("charter regions", s["regions"], MAX_ATTRIBUTE_VALUES)
    value_list("charter phases", s["phases"], MAX_ATTRIBUTE_VALUES)
    value_list("charter trust types", s["trust_types"], MAX_ATTRIBUTE_VALUES)
    b = s["school_bands"]
    if b:
        field = "charter school bands"
        if len(b) > MAX_SCHOOL_BANDS:
            raise invalid(field, f"lists {len(b)} bands, over the limit of {MAX_SCHOOL_BANDS}")
        if b[0] != 1:
            raise invalid(field, f"must start at 1 (every member with schools has a band), starts at {b[0]}")
        for lo, hi in zip(b, b[1:]):
            if lo >= hi:
                raise invalid(field, f"must be strictly ascending ({hi} comes after {lo})")
        for x in b:
            if x > MAX_SCHOOLS:
                raise invalid(field, f"bound {x} is over the limit of {MAX_SCHOOLS}")
    return {"regions": list(s["regions"]), "phases": list(s["phases"]), "trust_types": list(s["trust_types"]),
            "school_bands": list(b)}


def breadth_rule(field, r):
    """The body rules of one BreadthRule (`field` names the adoption rule)."""
    attribute = BY_NUMBER.get(r["attribute"])
    if attribute is None:
        raise invalid(
            field, f"attribute {r['attribute']} is not region (1), phase (2), trust type (3) or size band (4)"
        )
    if r["min_distinct"] > MAX_MIN_DISTINCT:
        raise invalid(field, f"min_distinct is {r['min_distinct']}, over the limit of {MAX_MIN_DISTINCT}")
    value_list(field, r["each_of"], MAX_ATTRIBUTE_VALUES)
    if r["min_distinct"] == 0 and not r["each_of"]:
        raise invalid(field, "requires nothing (min_distinct 0 and no each_of values); leave it out")
    return {"attribute": attribute, "min_distinct": r["min_distinct"], "each_of": list(r["each_of"])}


# --- Sets and bands ---------------------------------------------------------------------------


def bands(sets):
    return sets["school_bands"] or DEFAULT_SCHOOL_BANDS


def band_label(b, i):
    if i + 1 == len(b):
        return f"{b[i]}+"
    if b[i + 1] - 1 == b[i]:
        return f"{b[i]}"
    return f"{b[i]}-{b[i + 1] - 1}"


def band_labels(sets):
    b = bands(sets)
    return [band_label(b, i) for i in range(len(b))]


def band_of(sets, schools):
    if not schools:
        return None
    b = bands(sets)
    i = max(j for j, lo in enumerate(b) if lo <= schools)
    return band_label(b, i)


def values(sets, attribute):
    """The set of an attribute in set order (band labels in band order for size band)."""
    if attribute == "size_band":
        return band_labels(sets)
    return list(sets[SET_KEY[attribute]])


def contains(sets, attribute, value):
    return value in values(sets, attribute)


def value_of(sets, member, attribute):
    """The value a member's attributes show for `attribute` under these sets, or None."""
    if attribute == "size_band":
        return band_of(sets, member["schools"])
    v = member[attribute]
    return v if v is not None and contains(sets, attribute, v) else None


def describe(sets, attribute):
    vs = values(sets, attribute)
    return ", ".join(quote(v) for v in vs) if vs else "none defined"


def check_against(field, rule, sets):
    """A breadth rule can be met under its charter's sets."""
    a = rule["attribute"]
    n = len(values(sets, a))
    if rule["min_distinct"] > n:
        raise invalid(
            field,
            f"needs {rule['min_distinct']} distinct {PLURAL[a]}, but the charter defines only {n} "
            f"({describe(sets, a)}); lower min_distinct or add values",
        )
    for v in rule["each_of"]:
        if not contains(sets, a, v):
            raise invalid(
                field, f"each_of names {quote(v)}, which is not one of the charter's {PLURAL[a]} ({describe(sets, a)})"
            )


def check_values(member, sets, whose):
    """Every declared region, phase and trust type is a value of the charter's sets."""
    for a, field in (("region", "member region"), ("phase", "member phase"), ("trust_type", "member trust type")):
        v = member[a]
        if v is not None and not contains(sets, a, v):
            raise invalid(
                field,
                f"{whose} declares {quote(v)}, which is not one of the charter's {PLURAL[a]} "
                f"({describe(sets, a)}); declare one of them or none",
            )


# --- Breadth ----------------------------------------------------------------------------------


def rule_text(rule):
    """'endorsers from at least 6 distinct regions, including "London"'."""
    a = rule["attribute"]
    named = ", ".join(quote(v) for v in rule["each_of"])
    if rule["min_distinct"] > 0:
        head = f"endorsers from at least {rule['min_distinct']} distinct {PLURAL[a]}"
        return f"{head}, including {named}" if rule["each_of"] else head
    return f"an endorser with each {NAME[a]} of {named}"


def shown(sets, rule, endorsers):
    """The values of the rule's attribute the endorsing members (attribute dicts) show."""
    out = set()
    for m in endorsers:
        v = value_of(sets, m, rule["attribute"])
        if v is not None:
            out.add(v)
    return out


def shortfall(rule, values_shown):
    """Why the endorsers' values do not meet the rule (too few distinct values
    first, then the first named value none shows), or None when met."""
    a = rule["attribute"]
    if len(values_shown) < rule["min_distinct"]:
        return f"needs endorsers from at least {rule['min_distinct']} distinct {PLURAL[a]}, has {len(values_shown)}"
    for v in rule["each_of"]:
        if v not in values_shown:
            return f"needs an endorser with {NAME[a]} {quote(v)}, has none"
    return None


def first_shortfall(sets, rules, endorsers):
    """(rule, shortfall) of the first breadth rule not met, or None."""
    for rule in rules:
        s = shortfall(rule, shown(sets, rule, endorsers))
        if s is not None:
            return rule, s
    return None


def breakdown(rule_name, sets, rules, members, stances):
    """The tally broken down by attribute, as a JSON-ready dict. `members` maps
    each member of the roster version to its attributes, `stances` each member
    with an effective stance to it (1 endorse, 2 object, 3 abstain)."""
    rows = {}
    for a, *_ in ATTRIBUTES:
        rows[a] = [{"value": v, "endorse": 0, "object": 0, "abstain": 0, "silent": 0} for v in values(sets, a)]
        rows[a].append({"value": None, "endorse": 0, "object": 0, "abstain": 0, "silent": 0})
    column = {1: "endorse", 2: "object", 3: "abstain", None: "silent"}
    out = {"rule": rule_name, "members": len(members), "endorsers": 0}
    schools = pupils = with_schools = with_pupils = 0
    endorsers = []
    for trust, m in members.items():
        stance = stances.get(trust)
        for a, *_ in ATTRIBUTES:
            v = value_of(sets, m, a)
            row = next((r for r in rows[a] if v is not None and r["value"] == v), rows[a][-1])
            row[column[stance]] += 1
        if stance == 1:
            endorsers.append(m)
            if m["schools"] is not None:
                schools += m["schools"]
                with_schools += 1
            if m["pupils"] is not None:
                pupils += m["pupils"]
                with_pupils += 1
    out["endorsers"] = len(endorsers)
    for a, *_ in ATTRIBUTES:
        out[a] = rows[a]
    out["endorser_schools"] = schools
    out["endorsers_declaring_schools"] = with_schools
    out["endorser_pupils"] = pupils
    out["endorsers_declaring_pupils"] = with_pupils
    out["breadth"] = []
    for rule in rules:
        vs = shown(sets, rule, endorsers)
        out["breadth"].append(
            {
                "rule": dict(rule),
                "distinct": len(vs),
                "missing": [v for v in rule["each_of"] if v not in vs],
                "met": shortfall(rule, vs) is None,
            }
        )
    return out


# --- For people (as `chorus verify` prints them) ----------------------------------------------


def _thousands(n):
    return f"{n:,}"


def _set_size(b, a):
    return sum(1 for r in b[a] if r["value"] is not None)


def _endorser_values(b, a):
    return sum(1 for r in b[a] if r["value"] is not None and r["endorse"] > 0)


def informative(b):
    """True when a breakdown says more than the plain tally: a breadth rule, a
    value set, a member declaring a value, or an endorser declaring schools or
    pupils (size bands always exist, so they count only once declared)."""

    def shown(a):
        declared = any(r["value"] is not None and sum(r[k] for k in ("endorse", "object", "abstain", "silent")) > 0
                       for r in b[a])
        return declared or (a != "size_band" and _set_size(b, a) > 0)

    return (
        bool(b["breadth"])
        or any(shown(a) for a, *_ in ATTRIBUTES)
        or b["endorsers_declaring_schools"] > 0
        or b["endorsers_declaring_pupils"] > 0
    )


def summary(b):
    """"endorsed by 34 of 52 member trusts, from 8 of 9 regions, running 412
    schools with 198,000 pupils": regions when the charter has a region set,
    schools and pupils when an endorser declares them."""
    text = f"endorsed by {b['endorsers']} of {b['members']} member trusts"
    regions = _set_size(b, "region")
    if regions:
        text += f", from {_endorser_values(b, 'region')} of {regions} regions"
    schools = b["endorsers_declaring_schools"] > 0
    if schools:
        text += f", running {_thousands(b['endorser_schools'])} schools"
    if b["endorsers_declaring_pupils"] > 0:
        text += " with " if schools else ", with "
        text += f"{_thousands(b['endorser_pupils'])} pupils"
    return text


def breadth_lines(b):
    """One line per breadth rule and its state: 'from at least 6 of 9 regions:
    5, not met', 'from at least 2 of 3 regions, including "London": 2, missing
    "London", not met', 'an endorser from each of "A", "B" (phases): met'."""
    lines = []
    for s in b["breadth"]:
        rule = s["rule"]
        a = rule["attribute"]
        verdict = "met" if s["met"] else "not met"
        missing = f"missing {', '.join(quote(v) for v in s['missing'])}, " if s["missing"] else ""
        if rule["min_distinct"] > 0:
            including = f", including {', '.join(quote(v) for v in rule['each_of'])}" if rule["each_of"] else ""
            lines.append(
                f"from at least {rule['min_distinct']} of {_set_size(b, a)} {PLURAL[a]}{including}: "
                f"{s['distinct']}, {missing}{verdict}"
            )
        else:
            named = ", ".join(quote(v) for v in rule["each_of"])
            lines.append(f"an endorser from each of {named} ({PLURAL[a]}): {missing}{verdict}")
    return lines
