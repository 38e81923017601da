"""What a question asks for (a number, a date, a person or organisation, a place, or something
else) and whether a sentence contains that kind of thing.

A quote can only answer "how many" if it states a number, "when" if it states a time, "who" if
it names someone: the confidence uses this, and the highlighted sentence is chosen by it.
Plain patterns over the text; no tagger model ships offline.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache


class Asked(Enum):
    MONEY = "money"  # an amount of money: "how much did it cost?"
    NUMBER = "number"
    DATE = "date"
    NAME = "name"  # a person or an organisation
    PLACE = "place"
    OTHER = "other"


_LEAD = r"^\s*(?:(?:and|so|ok|okay|hey|quick q|q|also|btw)[,:]?\s+)?"
# Money questions first: "how much did X cost" needs an amount of money, not just any number.
_MONEY_VERBS = (
    r"cost|costs|pay|paid|pays|spend|spent|charge|charged|earn|earned|earns|owe|owes|owed|save|saves"
    r"|raise|raised|lose|losing|lost|worth|fetch|fetched|sell for|sold for|award|awarded|bring in"
)
_ASKS_MONEY = re.compile(
    r"\bhow much\b(?:\s+[\w’'-]+){0,8}?\s+(?:" + _MONEY_VERBS + r")\b"
    r"|\bhow much (?:[\w’'-]+ )?(?:money|cash|funding)\b|\bin dollars\b"
    r"|\bwhat(?:'s|s| is| was| will| would| does| did)?(?: [\w’'-]+){0,3}? (?:price|cost|revenue|salary|budget|bail)\b"
    r"|\bwhat (?:will|would|does|did|do)\b(?: [\w’'-]+){1,5}? cost\b",
    re.I,
)
_ASKS = [
    (
        Asked.DATE,
        re.compile(
            _LEAD
            + r"(?:when\b|since when\b|what (?:time|date|day|year|month)\b|which (?:day|date|year|month)\b"
            r"|how soon\b|by when\b)",
            re.I,
        ),
    ),
    (
        Asked.NUMBER,
        re.compile(
            _LEAD + r"(?:how (?:many|much|long|old|far|often|big|large|high|tall|fast|deep|wide|heavy|bad)\b"
            r"|what(?:'s| is| was| are)? (?:the )?(?:%|percent(?:age)?|share|number|amount|price|cost|rate|total)\b"
            r"|in how many\b|at how many\b|what % )",
            re.I,
        ),
    ),
    (
        Asked.NAME,
        re.compile(
            _LEAD + r"(?:who(?:'s|s| is| was| are| were)?\b|whom\b|whose\b"
            r"|which (?:\w+ )?(?:company|firm|team|player|group|agency|official|member|members|lawmaker|senator|country"
            r"|countries|airline|bank|brand|network|candidate|person|people|guy|deputy|minister)\b)",
            re.I,
        ),
    ),
    (Asked.PLACE, re.compile(_LEAD + r"(?:where(?:'s| is| was| are| were| did| do| does)?\b)", re.I)),
]
# Chat questions often put the question word later ("Fiona death toll?", "so who won?").
_ASKS_ANYWHERE = [
    (Asked.NUMBER, re.compile(r"\b(?:how many|how much|death toll|number of)\b", re.I)),
    (Asked.DATE, re.compile(r"\bwhen\b", re.I)),
    (Asked.NAME, re.compile(r"\bwho\b", re.I)),
]

# Words that stand for numbers or quantities in running text.
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty"
    r"|sixty|seventy|eighty|ninety|hundred|hundreds|thousand|thousands|million|millions|billion|billions"
    r"|trillion|dozen|dozens|half|quarter|third|twice|double|percent|zero|no one|none|nobody)\b",
    re.I,
)
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan\.?|feb\.?|mar\.?|apr\.?|aug\.?|sept?\.?|oct\.?|nov\.?|dec\.?"
)
_DATE = re.compile(
    r"\b(?:"
    + _MONTHS
    + r")\b|\b(?:1[89]|20)\d\d\b|\b\d{1,2}:\d\d\b|\b[ap]\.m\.|\b(?:monday|tuesday|wednesday"
    r"|thursday|friday|saturday|sunday|today|tomorrow|yesterday|tonight|weekend|week|month|year|spring|summer"
    r"|autumn|fall|winter|decade|century|days?|hours?|minutes?|months|weeks|years|since|until|later|ago"
    r"|soon|next|last)\b",
    re.I,
)
# A capitalised word that does not merely start the sentence, or an acronym such as NASA.
_NAME = re.compile(r"(?<=[\w,;:)’'\"”] )[A-Z][\w’'.-]+|\b[A-Z]{2,}\b")
_NOT_NAMES = re.compile(
    r"^(?:I|The|A|An|But|And|In|On|At|Of|For|To|It|This|That|These|Those|He|She|They|We|You|"
    + "|".join(m.capitalize() for m in _MONTHS.replace("\\.?", "").split("|") if len(m) > 3)
    + r"|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Q|MR|MS|END)$"
)


_MONEY = re.compile(
    r"[$€£¥₹]|\b(?:dollars?|bucks|cents?|euros?|pounds|sterling|yen|yuan|renminbi|rupees?|rubles?|roubles?"
    r"|francs?|crowns|kronor|kroner|krona|pesos?|lira|lire|shillings?|dinars?|USD|EUR|GBP|free of charge|for free)\b",
    re.I,
)


@lru_cache(maxsize=1024)
def asked_for(question: str) -> Asked:
    """The kind of thing the question asks for."""
    if _ASKS_MONEY.search(question) and not _ASKS[0][1].search(question):
        return Asked.MONEY
    for kind, pattern in (*_ASKS, *_ASKS_ANYWHERE):
        if pattern.search(question):
            return kind
    return Asked.OTHER


# The role a "who" question asks about, and the words a sentence naming its holder uses.
_ROLES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(rf"\b(?:{asked})\b", re.I), words)
    for asked, words in (
        (r"ceo|chief executive|chief exec", ("chief executive", "ceo", "chief exec")),
        (r"cfo|chief financial officer", ("chief financial officer", "cfo", "finance chief")),
        (
            r"boss|head honcho",
            ("chief executive", "ceo", "head", "leader", "boss", "chair", "president", "director"),
        ),
        (r"spokes(?:man|woman|person)|press secretary", ("spokes", "press secretary")),
        (r"prime minister|premier", ("prime minister", "premier")),
        (r"chair(?:man|woman|person)?", ("chair",)),
        (r"founder|founded", ("found",)),
        (
            r"coach|manager|director|governor|mayor|ambassador|minister|secretary|commander|owner"
            r"|principal|editor|dean|captain|judge|lawyer|attorney|sheriff|chancellor",
            (),
        ),
    )
)


@lru_cache(maxsize=1024)  # asked once per sentence of every candidate of a question
def _role_words(question: str) -> tuple[str, ...]:
    """Words one of which a sentence must use to name the holder of the role a "who" question
    asks about ("who is the CEO" -> "chief executive", "ceo"); empty when it names no role."""
    for pattern, words in _ROLES:
        found = pattern.search(question)
        if found:
            return words or (found.group(0).lower(),)
    return ()


def names_role_holder(question: str, text: str) -> bool:
    """True when the question asks who holds a role ("who is the CEO") and ``text`` names the
    role together with a name: the sentence that answers it, however little else it shares
    with the question."""
    if asked_for(question) is not Asked.NAME or not _role_words(question):
        return False
    return has_answer_type(Asked.NAME, text, question)


def has_answer_type(asked: Asked, text: str, question: str = "") -> bool:
    """True when ``text`` contains something of the asked kind (always true for OTHER). With the
    ``question``, a "who is the CEO" question needs the role named beside the name."""
    if asked is Asked.MONEY:
        return bool(_MONEY.search(text))
    if asked is Asked.NUMBER:
        return bool(_NUMBER.search(text))
    if asked is Asked.DATE:
        return bool(_DATE.search(text))
    if asked in (Asked.NAME, Asked.PLACE):
        if not any(not _NOT_NAMES.match(m.strip(".")) for m in _NAME.findall(text)):
            return False
        role = _role_words(question) if asked is Asked.NAME else ()
        return not role or any(re.search(rf"\b{re.escape(r)}", text, re.I) for r in role)
    return True
