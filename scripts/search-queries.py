#!/usr/bin/env python3
"""Labelled search queries written from a registration file with tools independent of the project's code.

The queries are what people type when they look a company up: a place and the brand in pinyin or initials
(either order), pinyin, initials, a few characters of the name, traditional characters, a name with one
character wrong, code prefixes and full-width codes, and queries of generic words only. Readings come from
`pypinyin` and traditional characters from `opencc` (both pinned in scripts/requirements.txt); the place,
brand and legal form of a name are read from the name and its registered address by the rules below, not
by the tables the fixtures were generated with.

Every labelled query must single its subject out: among all public organisations, only the expected one
matches what the query says (checked here over the whole file, by the same independent readings), so a
search that finds it within the top 5 is right and one that does not is wrong. Generic queries are labelled
`-`: any result answers them, an empty page does not.

    python3 scripts/search-queries.py SUBJECTS.csv OUT.tsv [--per-kind N] [--seed S]

Output: `kind<TAB>query<TAB>expected unified code` per line, after `#` comment lines.
"""

import argparse
import csv
import random
import re
import sys
from collections import defaultdict

import opencc
import pypinyin
from pypinyin import Style, lazy_pinyin

# Legal forms and generic endings, longest first: what a name ends with that says nothing of which one it is.
LEGAL_FORMS = [
    "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "股份合作社", "专业合作社", "合作社",
    "合伙企业", "分公司", "公司",
]
# Administrative endings of place names, longest first.
PLACE_ENDINGS = ["自治州", "自治县", "自治旗", "地区", "新区", "管理区", "工业园区", "省", "市", "州", "盟", "县", "区", "旗"]
# Words that alone name no subject: the generic queries.
GENERIC_QUERIES = ["有限公司", "科技", "科技有限公司", "公司", "有限责任公司", "贸易", "股份有限公司", "合作社", "店", "中心"]

ADDRESS_PARTS = re.compile(
    r"^(?P<province>.+?(?:省|自治区)|北京市|天津市|上海市|重庆市)?"
    r"(?P<city>.+?(?:自治州|地区|盟|市))?"
    r"(?P<county>.+?(?:自治县|自治旗|管理区|工业园区|新区|县|区|旗|市))?"
)


def bare_place(place):
    """A place as people type it: without its administrative ending when two characters or more remain;
    an autonomous prefecture or county by its first two characters (延边, 青龙)."""
    if any(place.endswith(e) for e in ("自治州", "自治县", "自治旗")):
        return place[:2]
    for ending in PLACE_ENDINGS:
        if place.endswith(ending) and len(place) - len(ending) >= 2:
            return place[: -len(ending)]
    return place


def strip_legal_form(name):
    for form in LEGAL_FORMS:
        if name.endswith(form) and len(name) > len(form):
            return name[: -len(form)]
    return name


class Parsed:
    """A name read as place + brand + the rest, by its registered address."""

    def __init__(self, row):
        self.code = row["TYSHXYDM"]
        self.name = row["JGMC"]
        address = row.get("ZCDZ", "")
        parts = ADDRESS_PARTS.match(address)
        places = [parts.group(g) for g in ("province", "city", "county")] if parts else []
        self.places = [p for p in places if p]
        core = strip_legal_form(self.name)
        # The name's leading place: the longest run of the address's places it starts with.
        rest = core
        self.leading = []
        for place in self.places:
            if rest.startswith(place):
                self.leading.append(place)
                rest = rest[len(place):]
        self.after_place = rest
        self.brand = rest[:2] if len(rest) >= 4 else ""
        self.city = next((p for p in self.places[1:2]), None)
        self.county = self.places[2] if len(self.places) > 2 else None


def syllables(text):
    return [s.replace("ü", "v") for s in lazy_pinyin(text, errors="ignore")]


def initials(text):
    return "".join(s[0] for s in lazy_pinyin(text, style=Style.FIRST_LETTER, errors="ignore") if s)


class Corpus:
    def __init__(self, rows):
        self.subjects = [Parsed(r) for r in rows]
        self.names = "\n" + "\n".join(s.name for s in self.subjects) + "\n"
        self.name_set = {s.name for s in self.subjects}
        self.by_place = defaultdict(list)
        for s in self.subjects:
            for place in s.places[1:]:
                self.by_place[bare_place(place)].append(s)
        self.codes = "\n" + "\n".join(s.code for s in self.subjects) + "\n"
        # Every name's reading once, joined: whether a reading singles a subject out is one count.
        self.pinyins = {}
        self.initial_letters = {}
        for s in self.subjects:
            core = strip_legal_form(s.name)
            self.pinyins[s.code] = "".join(syllables(core))
            self.initial_letters[s.code] = initials(core)
        self.all_pinyin = "\n" + "\n".join(self.pinyins.values()) + "\n"
        self.all_initials = "\n" + "\n".join(self.initial_letters.values()) + "\n"

    def core_pinyin(self, s):
        return self.pinyins[s.code]

    def core_initials(self, s):
        return self.initial_letters[s.code]

    def names_containing(self, text):
        return self.names.count(text)

    def unique_in_place(self, place, subject, letters, reading):
        """Whether `subject` is the one organisation of `place` (name or address) whose name reads `letters`."""
        matches = [s for s in self.by_place.get(place, []) if letters in reading(s)]
        return len(matches) == 1 and matches[0] is subject

    def unique_overall(self, subject, letters, reading):
        joined = self.all_pinyin if reading == self.core_pinyin else self.all_initials
        return letters in reading(subject) and joined.count(letters) == 1


def spaced(sylls, rng):
    """Pinyin as typed: joined, by syllable, or in words of two syllables."""
    style = rng.choice(["joined", "syllables", "words"])
    if style == "joined":
        return "".join(sylls)
    if style == "syllables":
        return " ".join(sylls)
    return " ".join("".join(sylls[i:i + 2]) for i in range(0, len(sylls), 2))


def homophone_table(names):
    """Characters of the data by their toneless reading: for typing errors of one character."""
    by_reading = defaultdict(set)
    seen = set()
    for name in names:
        for c in name:
            if c not in seen and "\u4e00" <= c <= "\u9fff":
                seen.add(c)
                reading = lazy_pinyin(c)[0]
                by_reading[reading].add(c)
    return {r: sorted(cs) for r, cs in by_reading.items()}


FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def make(corpus, per_kind, rng, sample_size):
    pool = [s for s in corpus.subjects if s.brand and s.code]
    rng.shuffle(pool)
    pool = pool[:sample_size]
    s2t = opencc.OpenCC("s2t.json")
    homophones = homophone_table(s.name for s in pool[:20000])
    out = defaultdict(list)
    used = defaultdict(set)

    def add(kind, query, subject):
        if len(out[kind]) < per_kind and subject.code not in used[kind]:
            used[kind].add(subject.code)
            out[kind].append((query, subject.code))

    def one(kind, s):
        places = [bare_place(p) for p in (s.city, s.county) if p]
        places = [p for p in places if len(p) <= 4]
        if kind == "mixed_place_pinyin" and places:
            # A place and the brand (or the name after the place) in pinyin, in either order.
            place = rng.choice(places)
            brand_py, rest_py = syllables(s.brand), syllables(s.after_place)
            for sylls in (brand_py, rest_py):
                letters = "".join(sylls)
                if corpus.unique_in_place(place, s, letters, corpus.core_pinyin):
                    typed = spaced(sylls, rng) if sylls is rest_py else letters
                    add(kind, f"{place} {typed}" if rng.random() < 0.5 else f"{typed} {place}", s)
                    return
        elif kind == "mixed_place_initials" and places:
            place = rng.choice(places)
            letters = initials(s.after_place)
            if len(letters) >= 3 and corpus.unique_in_place(place, s, letters, corpus.core_initials):
                add(kind, f"{place} {letters}" if rng.random() < 0.7 else f"{letters} {place}", s)
        elif kind == "pinyin":
            sylls = syllables(s.after_place)
            if corpus.unique_overall(s, "".join(sylls), corpus.core_pinyin):
                add(kind, spaced(sylls, rng), s)
        elif kind == "initials":
            letters = initials(s.after_place)
            if len(letters) >= 4 and corpus.unique_overall(s, letters, corpus.core_initials):
                add(kind, letters, s)
        elif kind == "partial":
            # The brand and a character or two of what follows: a few characters of the name.
            length = rng.choice([3, 4])
            part = s.after_place[:length]
            if len(part) == length and corpus.names_containing(part) == 1:
                add(kind, part, s)
        elif kind == "traditional":
            traditional = s2t.convert(s.name)
            if traditional != s.name:
                add(kind, traditional, s)
        elif kind == "typo":
            # One character of the brand typed wrong: another character of the same reading (what a
            # pinyin keyboard offers), or left out.
            index = s.name.find(s.brand) + rng.randrange(len(s.brand))
            reading = lazy_pinyin(s.name[index])[0]
            others = [c for c in homophones.get(reading, []) if c != s.name[index]]
            if others and rng.random() < 0.7:
                typo = s.name[:index] + rng.choice(others) + s.name[index + 1:]
            else:
                typo = s.name[:index] + s.name[index + 1:]
            if typo not in corpus.name_set:
                add(kind, typo, s)
        elif kind == "code_prefix":
            prefix = s.code[: rng.choice([12, 14, 16])]
            if corpus.codes.count("\n" + prefix) == 1:
                add(kind, prefix, s)
        elif kind == "full_width_code":
            add(kind, "".join(FULL_WIDTH.get(c, c) for c in s.code), s)

    for kind in KINDS[:-1]:
        order = pool[:]
        rng.shuffle(order)
        for s in order:
            if len(out[kind]) >= per_kind:
                break
            one(kind, s)
    for query in GENERIC_QUERIES:
        out["generic"].append((query, "-"))
    return out


KINDS = [
    "mixed_place_pinyin", "mixed_place_initials", "pinyin", "initials", "partial", "traditional", "typo",
    "code_prefix", "full_width_code", "generic",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("subjects", help="subjects.csv of a fixtures directory")
    parser.add_argument("out", help="where to write the labelled queries")
    parser.add_argument("--per-kind", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--sample", type=int, default=20000, help="subjects queries are drawn from")
    args = parser.parse_args()
    with open(args.subjects, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("SFGK", "1").strip() not in ("0", "否")]
    corpus = Corpus(rows)
    rng = random.Random(args.seed)
    out = make(corpus, args.per_kind, rng, args.sample)
    with open(args.out, "w", encoding="utf-8") as f:
        command = " ".join(["python3", "scripts/search-queries.py", *sys.argv[1:]])
        f.write(
            "# Labelled search queries written independently of the project's code (pypinyin"
            f" {pypinyin.__version__}, OpenCC {opencc.__version__}) from {len(rows)} public organisations:"
            f" `{command}`.\n"
        )
        f.write("# kind\tquery\texpected unified code (`-`: any result answers a generic query)\n")
        for kind in KINDS:
            for query, code in out[kind]:
                f.write(f"{kind}\t{query}\t{code}\n")
    counts = ", ".join(f"{k} {len(out[k])}" for k in KINDS)
    print(f"search-queries: {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
