"""How the guard reads a text: its clauses, sentences and words, the phrases of the
vocabulary among them, and the small lexicon of report language that both the frames
(:mod:`worker.safety.guard`) and the default (:mod:`worker.safety.ownership`) share.

A :class:`Text` is read once: lower-cased for matching, with its case kept for acronyms, cut
into clauses at sentence punctuation, commas, colons, semicolons, brackets, dashes and line
breaks (a comma or a full stop between digits, as in "4,000" or "2.5", is part of a number).
Its words are found once, and any window of them is a slice.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import NamedTuple

from worker.safety.vocabulary import (
    CAPITALS,
    LONGEST_PHRASE,
    MEDICINE,
    Vocabulary,
    american,
    ending_flags,
)


def word_set(spaced: str) -> frozenset[str]:
    """The words of ``spaced``, a list written as one string."""
    return frozenset(spaced.split())


class Token(NamedTuple):
    """One word: lower-cased, as written, and where it starts in the text."""

    lower: str
    cased: str
    start: int


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})
# A comma or a full stop between digits ("4,000", "2.5") is part of a number, not a cut.
_BOUNDARY = re.compile(r'[!?;:()\[\]{}"\n\u2014\u2013]|[.,](?!\d)|\s-\s')
# A hedge set off by commas ("You are, in all probability, lactose intolerant") is read as
# part of its clause, so that the claim around it is read whole.
_PARENTHETICAL = re.compile(
    r",\s*(?:in all (?:probability|likelihood)|most likely|very likely|quite likely|probably|almost certainly|"
    r"i suspect|i think|i'd say|i reckon|i'd guess|i'm guessing|by the look of it|by the looks of it|"
    r"by the sound of it|by the sound of things|it seems|it appears|frankly|honestly|clearly|in my view|"
    r"in my opinion|if you ask me|without doubt|no doubt|in fact|it would seem|from the look of it|"
    r"judging by your logs|judging by your notes|going by your logs|going by your notes|perhaps|maybe|"
    r"possibly|sadly|unfortunately|i'm afraid|i fear)\s*,"
)
_SENTENCE_END = re.compile(r"[!?\n]|\.(?!\d)")
# A quotation: a mark that opens a word and the same mark that closes one, within a line.
_QUOTED = re.compile(r"(?<![a-z0-9])(['\"])(?=[a-z0-9]).*?(?<=[a-z0-9.!?,])\1(?![a-z0-9])")
_TOKEN = re.compile(r"[a-z0-9µ]+(?:['/-][a-z0-9]+)*")
_WORD_CHARS = 16  # a window of n words reads at most n * 16 characters of its clause


class Text:
    """One text, lower-cased for matching, with its case kept for acronyms and its clauses."""

    def __init__(self, text: str) -> None:
        cased = text if text.isascii() else text.translate(_QUOTES)
        lower = cased.lower()
        # A few characters change length when lower-cased; then case is not kept.
        self.cased = cased if len(lower) == len(cased) else lower
        self.lower = lower
        self._cuts: list[int] | None = None
        self._words: list[str] | None = None
        self._word_starts: list[int] | None = None
        self._quotes: list[tuple[int, int]] | None = None

    def clauses(self) -> list[tuple[int, int]]:
        """Where each clause starts and ends, in order."""
        if self._cuts is None:
            self._cuts = self._find_cuts()
        starts = [0, *(cut + 1 for cut in self._cuts)]
        return list(zip(starts, [*self._cuts, len(self.lower)], strict=True))

    def _find_cuts(self) -> list[int]:
        cuts = [m.start() for m in _BOUNDARY.finditer(self.lower)]
        if ", " in self.lower and "," in self.lower[self.lower.index(", ") + 2 :]:
            kept: set[int] = set()
            for found in _PARENTHETICAL.finditer(self.lower):
                kept.update((found.start(), found.end() - 1))
            if kept:
                cuts = [cut for cut in cuts if cut not in kept]
        return cuts

    def sentence(self, position: int) -> tuple[int, int]:
        """Where the sentence around ``position`` starts and ends."""
        lower = self.lower
        start = max((m.end() for m in _SENTENCE_END.finditer(lower, 0, position)), default=0)
        found = _SENTENCE_END.search(lower, position)
        return start, found.start() if found else len(lower)

    def quoted(self, position: int) -> bool:
        """Whether ``position`` lies inside quotation marks: the person's own words."""
        if self._quotes is None:
            self._quotes = [(m.start(), m.end()) for m in _QUOTED.finditer(self.lower)]
        return any(start < position < end for start, end in self._quotes)

    def clause(self, position: int) -> tuple[int, int]:
        """Where the clause around ``position`` starts and ends."""
        if self._cuts is None:
            self._cuts = self._find_cuts()
        index = bisect.bisect_right(self._cuts, position)
        start = self._cuts[index - 1] + 1 if index else 0
        end = self._cuts[index] if index < len(self._cuts) else len(self.lower)
        return start, end

    def words(self) -> list[str]:
        """Every word of the text, lower-cased, read once."""
        if self._words is None:
            # findall in C; where the words start is found only when asked (most texts
            # are cleared by their words alone).
            self._words = _TOKEN.findall(self.lower)
        return self._words

    def word_starts(self) -> list[int]:
        """Where each of :meth:`words` starts."""
        if self._word_starts is None:
            self._word_starts = [m.start() for m in _TOKEN.finditer(self.lower)]
        return self._word_starts

    def span(self, first: int, last: int) -> list[Token]:
        """Words ``first`` to ``last`` (indices into :meth:`words`) as tokens."""
        words = self.words()
        starts = self.word_starts()
        cased = self.cased
        return [
            Token(words[i], cased[starts[i] : starts[i] + len(words[i])], starts[i])
            for i in range(first, last)
        ]

    def tokens(self, start: int, end: int) -> list[Token]:
        """The words that start between ``start`` and ``end``."""
        starts = self.word_starts()
        return self.span(bisect.bisect_left(starts, start), bisect.bisect_left(starts, end))

    def clause_ranges(self) -> list[tuple[int, int]]:
        """For each clause with words, where its words start and end in :meth:`words`."""
        starts = self.word_starts()
        ranges = []
        for start, end in self.clauses():
            first, last = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
            if first < last:
                ranges.append((first, last))
        return ranges

    def after(self, match: re.Match[str], limit: int) -> list[Token]:
        """Up to ``limit`` words after ``match``, in its clause."""
        _, end = self.clause(match.start())
        # End at a word boundary so that the last word is never a fragment.
        stop = min(end, match.end() + limit * _WORD_CHARS)
        while stop < end and self.lower[stop].isalnum():
            stop += 1
        return self.tokens(match.end(), stop)[:limit]

    def before(self, match: re.Match[str], limit: int) -> list[Token]:
        """Up to ``limit`` words before ``match``, in its clause."""
        start, _ = self.clause(match.start())
        # Start at a word boundary so that the first word is never a fragment.
        begin = max(start, match.start() - limit * _WORD_CHARS)
        while begin > start and self.lower[begin - 1].isalnum():
            begin -= 1
        return self.tokens(begin, match.start())[-limit:]


# -- finding words in a window ---------------------------------------------------------------


def _in_capitals(word: str) -> bool:
    return (word[:-1] if word.endswith("s") else word).isupper()


def hits(tokens: list[Token], vocabulary: Vocabulary, wanted: int) -> list[tuple[int, int, int]]:
    """Each phrase in ``tokens`` with a ``wanted`` flag: (first word, past last word, flags)."""
    return scan([t.lower for t in tokens], lambda i: tokens[i].cased, vocabulary, wanted, None)


def scan(
    words: list[str], cased: Callable[[int], str], vocabulary: Vocabulary, wanted: int, ends: list[int] | None
) -> list[tuple[int, int, int]]:
    """Each phrase in ``words`` with a ``wanted`` flag: (first word, past last word, flags).

    The longest phrase with a wanted flag wins; words are joined only while they still start
    some phrase of the vocabulary, so most words cost one set look-up. ``cased`` gives a word
    as written (acronyms count only in capitals); ``ends``, when given, says where each word's
    clause ends, so that a phrase never runs into the next clause.
    """
    found = []
    count = len(words)
    known = vocabulary.known
    terms = vocabulary.terms
    prefixes = vocabulary.prefixes
    for i, word in enumerate(words):
        if word not in known:
            by_ending = ending_flags(word) & wanted if len(word) >= 7 else 0
            if by_ending:
                found.append((i, i + 1, by_ending))
            continue
        flags = 0
        size = 1
        if word in vocabulary.starts:
            phrase = word
            for j in range(i + 1, min(i + LONGEST_PHRASE, ends[i] if ends else count)):
                phrase += " " + words[j]
                spelled = american(phrase) if "ae" in phrase or "oe" in phrase or "our" in phrase else phrase
                if phrase not in prefixes and spelled not in prefixes:
                    break
                longer = terms.get(phrase, 0) or terms.get(spelled, 0)
                if longer & wanted:
                    flags, size = longer, j - i + 1
        if size == 1:
            flags = vocabulary.words.get(word, 0)
            if flags & CAPITALS and not _in_capitals(cased(i)):
                flags = 0
            if not flags and len(word) >= 7:
                flags = ending_flags(word)  # "polymyalgia": only the start of a longer name
        if flags & wanted:
            found.append((i, i + size, flags))
    return found


# -- report language that the frames and the default share ----------------------------------

# Words after a condition that make it the name of something logged.
LOG_WORDS = word_set(
    "entries entry log logs logged logging pattern patterns check-in check-ins checkins days day "
    "week weeks weekend mornings morning evenings evening nights night episodes episode flare "
    "flares flare-up flare-ups symptom symptoms scan scans note notes record records tracking "
    "tracker history trend trends streak streaks rhythm count counts score scores severity "
    "scale routine routines reminder reminders diary journal readings reading trigger triggers "
    "spell spells bout bouts season cycle timeline numbers care management plan app category "
    "label tag free-days prevention support awareness research"
)
# Words before a condition that count it ("more migraine than usual").
QUANTITIES = word_set("more less fewer some extra another no any most")
# Words that end the complement of a diagnosis frame.
CLAUSE_STARTS = word_set(
    "when whenever if while because since so but which that who where after before until "
    "once though although whereas unless than as whether"
)
# Words that rank a log's entries: "your most logged symptom is migraine" names what was
# logged, it does not diagnose.
NOT_A_DIAGNOSIS_SUBJECT = word_set("most main top usual common frequent busiest worst best logged")
# A doctor, pharmacist or other clinician: a sentence that hands a medicine to one is a referral.
CLINICIAN = re.compile(
    r"\b(?:doctors?|gps?|physicians?|pharmacists?|pharmacy|nurses?|clinicians?|specialists?|"
    r"opticians?|optometrists?|ophthalmologists?|physios?|physiotherapists?|dietitians?|dieticians?|"
    r"therapists?|counsellors?|counselors?|psychologists?|gynaecologists?|gynecologists?|"
    r"dermatologists?|rheumatologists?|endocrinologists?|gastroenterologists?|urologists?|"
    r"whoever prescribed|(?:person|people|one|team) who prescribed|chemists?|"
    r"consultants?|prescribers?|care team|health ?care (?:provider|professional|team)s?|"
    r"health professionals?|medical professionals?|providers?|dentists?|midwife|midwives|"
    r"practitioners?|clinic|allergists?|neurologists?|cardiologists?|dermatologists?|"
    r"psychiatrists?|dr)\b"
)
# What a referral may ask a clinician for without steering to a drug: "ask your pharmacist for
# advice", "ask your GP for a medication review".
_ADVICE = (
    r"(?: (?:a|an|the|some|your|their|his|her|proper|quick|short|full|second|fresh))*"
    r" (?:advice|review|reviews|check|checks|check-up|checkup|opinion|look|chat|word|guidance|help|"
    r"appointment|referral|test|tests|blood test|blood tests|scan|assessment|second opinion|"
    r"medication review|medicines review|medicine review|their view|their thoughts|information)\b"
)
# Words in a referral that ask the clinician for a drug or a change rather than for advice:
# "ask your GP for a course of antibiotics", "ask whether you can switch to the slow-release
# version", "a stronger version of your tablets".
TOWARD_THE_DRUG = re.compile(
    r"(?<!who )(?<!that )(?<!whoever )\bprescrib(?:e|es|ing)\b|\b(?:give you|put you on|start you on|"
    r"switch you to|get you on|move you to|move you onto|sell you|offer you|up your|upping|"
    r"increase|increasing|raise|raising|lower|lowering|reduce|reducing|"
    r"switch(?:ing)? (?:to|over|from|you)|chang(?:e|ing) (?:to|over)|swap(?:ping)? (?:to|for)|"
    r"try(?:ing)? (?:a|an|some|out)|(?:start|starting|begin|beginning) (?:a|an|some|on|taking)|"
    r"stronger|higher|bigger|extra|slow-release|modified-release|extended-release|long-acting|"
    r"(?:a|the) (?:different|new|other) (?:version|brand|formulation|kind|type|one)|add(?:ing)? (?:a|an|another|some)|a second|"
    r"about (?:getting|trying|starting|adding|going on|taking|using)|agree to|a course of|a trial of|"
    r"a (?:repeat )?prescription (?:for|of)|(?:should|could|might|need to|ought to|can) (?:be|go|get|come) "
    r"(?:on|off|onto)|whether to (?:start|stop|take|try|come off|go on|increase|reduce|switch)|"
    r"(?:try|trial|trying|trialling) you (?:on|with)|refer you for|sign you off with|"
    r"(?:put|get|start|putting|getting|starting) you (?:back )?on(?:to)?|(?:go|going|get|getting) back on|"
    r"(?:sort|sorting|fix|fixing|set|setting) you (?:out |up )?with|(?:if|whether) you (?:can|could|should|might) "
    r"(?:skip|stop|pause|drop|miss|halve|double|cut|reduce|increase|change|switch|swap|start|try|take))\b"
)
# A clinician asked for something other than advice, straight after their name: "ask your GP
# for a course of antibiotics", "asking the pharmacist for a stronger version".
_REQUEST_FOR = re.compile(rf"(?:\s*(?:or|and) (?:a |an |the |your )?[a-z]+)?\s*for\b(?!{_ADVICE})")


def toward_the_drug(lower: str, clinician_end: int, medicine_start: int) -> bool:
    """Whether the words between a clinician and a medicine ask for the drug or a change."""
    return bool(
        _REQUEST_FOR.match(lower, clinician_end, medicine_start)
        or TOWARD_THE_DRUG.search(lower, clinician_end, medicine_start)
    )


# A medicine the person is not said to take, offered as something that could help or suit
# them: "ask your GP whether an antidepressant would help", "whether a preventive medicine
# would suit you".
# Words before a medicine that make it one the person already has: "your", "the", "current".
_ADVISING = word_set("advice information questions question side effects interactions")
_OWN_LEADS = word_set(
    "your their his her the these those this that my our current usual regular existing prescribed own "
    "same any"
)
_PROMISE = re.compile(
    r"^\W*(?:\w+\W+){0,3}?(?:would|could|might|may|can|will|is|are)(?: \w+)?"
    r" (?:help|suit|work|be (?:right|an option|worth|appropriate|suitable|a good|useful|helpful|the answer)|"
    r"make (?:a|the) difference|take the edge off|ease|calm|settle|relieve|improve|sort|fix)\b"
    r"|^\W*(?:\w+\W+){0,3}?(?:suits|helps|works for|is worth)\b"
)


def offered(view: Text, medicine_start: int, lead: list[str], *, asked: bool = False) -> bool:
    """Whether the medicine at ``medicine_start`` is one the person is not said to take (no
    "your", "the" or "current" before it), offered as something that could help or suit them
    ("whether an antidepressant would help", "whether bisoprolol suits you"); ``lead`` holds
    the (lower-case) words just before it. ``asked`` says they follow a clinician's name: then
    asking "about" such a medicine steers too ("ask your GP about sertraline")."""
    if not _OWN_LEADS.isdisjoint(lead[-2:]):
        return False  # "whether your tablets could be behind the dry mouth"
    if asked and "about" in lead[-3:] and _ADVISING.isdisjoint(lead):
        return True  # "ask your provider about a GLP-1 medication", "ask your GP about sertraline"
    _, end = view.sentence(medicine_start)
    rest = view.lower[medicine_start:end]
    return bool(_PROMISE.search(rest.split(" ", 1)[1] if " " in rest else ""))


# Verbs that report what the person did: "you took ibuprofen before bed".
REPORTED = word_set(
    "noted logged mentioned recorded reported wrote said listed entered tracked took used had "
    "tried started stopped marked added skipped missed found felt finished completed bought got kept "
    "forgot gave brought left picked collected"
)
# What a clause says the person did or wrote about a medicine: "you ran out of", "your notes
# say you didn't need"; past and third-person forms only, since "use", "ask" or "note" open
# instructions.
REPORTED_USE = word_set(
    "mentions mentioned says said shows showed wrote asked joked described recorded reported "
    "tagged labelled labeled wondered entered marked rated forgot forgotten ran needed"
)
# A sentence's closing attribution to the person's own words: ", you wrote", "as you noted".
REPORTING_TAIL = re.compile(
    r"(?:,|\bas) you(?:'ve| have)? (?:wrote|written|noted|mentioned|said|logged|recorded|reported|put it|"
    r"labelled|labeled|called|named|termed|tagged|described|told)\b|\byou (?:wrote|said|mentioned|noted)\b|"
    r"\byour (?:\w+ )?(?:notes?|logs?|entries|entry|diary|journal|records?|check-ins?) (?:say|says|said|show|shows|"
    r"showed|mention|mentions|mentioned|note|notes|noted|record|records|recorded)\b|"
    r"\baccording to your\b|\bin your (?:words|notes|entry)\b|\b(?:was|were) (?:used|taken|logged|noted|"
    r"recorded|ticked|mentioned)\b"
)


def reports_use(before: list[str]) -> bool:
    """Whether the words before a medicine report what the person did with it: a verb of
    :data:`REPORTED`, or "you" and a past tense ("you remembered", "you also picked up")."""
    for index, word in enumerate(before):
        if word in REPORTED:
            return True
        if word == "you":
            for verb in before[index + 1 : index + 3]:
                if verb in REPORTED or (len(verb) > 4 and verb.endswith("ed") and verb not in _NOT_PAST):
                    return True
    return False


_NOT_PAST = word_set("need feed seed bleed breed speed proceed exceed succeed indeed")

NEGATORS = word_set("not don't dont doesn't didn't won't can't cannot never isn't aren't no")
# Words that deny what follows them: "nothing in your logs points to anything serious".
DENIALS = NEGATORS | word_set("nothing none neither nor without wouldn't shouldn't")
# "Any" phrases that a denial makes empty: "nothing points to anything serious".
_ANY = word_set("any anything")

# A condition as a figure of speech: "the deadline nearly gave you a heart attack", "you
# almost had a stroke when the bill came".
_GIVING = word_set("give gives gave giving given")
_OBJECTS = word_set("you me him her them us everyone everybody anyone somebody someone")
_ALMOST = word_set("nearly almost practically virtually")
_HAVING = _GIVING | word_set("had have has having got")


def figurative(tokens: list[Token], start: int) -> bool:
    """Whether the condition at ``tokens[start]`` is a figure of speech: the object of "gave
    you" or of "nearly had"."""
    before = [t.lower for t in tokens[max(0, start - 4) : start]]
    for index, word in enumerate(before[:-1]):
        if word in _GIVING and before[index + 1] in _OBJECTS:
            return True
        if word in _ALMOST and before[index + 1] in _HAVING:
            return True
    return False


def denied_any(tokens: list[Token], start: int, before: list[Token]) -> bool:
    """Whether the phrase at ``tokens[start]`` is an "any" phrase ("anything serious") after a
    denial in ``before``, the words of its clause ahead of the frame."""
    return tokens[start].lower in _ANY and any(t.lower in DENIALS for t in before)


# -- a medicine as a thing to take -------------------------------------------------------------

_FOOD_HEADS = word_set("rich high source sources foods food such")
_FOOD_LINKS = word_set("in of like with containing as")
_DOSE_WORDS = frozenset({"dose", "doses", "dosage"})
# Words after a medicine that make it an attribute or a source, not the thing taken:
# "your medication list", "chamomile tea", "vitamin d from daylight", "iron out".
_NOT_TAKEN = word_set(
    "list lists schedule log logs diary box organiser organizer reminder reminders review "
    "reviews history records entries names questions leaflet label labels use tea teas from out "
    "side machine machines training course courses class classes talk talks session sessions"
)
_SHOPS = word_set("chemist chemists pharmacy pharmacist shop shops supermarket counter store doctor gp")
_DEVICES = word_set("phone phones screen screens laptop laptops device devices computer computers tv ipad")


def taken(tokens: list[Token], start: int, end: int) -> bool:
    """Whether the medicine ``tokens[start:end]`` is named as a thing to take, not as an
    attribute or a source ("your medication list", "foods rich in magnesium")."""
    following = tokens[end].lower if end < len(tokens) else ""
    if tokens[start].lower in _DOSE_WORDS and following == "of":
        return False  # "a dose of fresh air"; a dose of a medicine names the medicine too
    if following == "from" and end + 2 < len(tokens) and tokens[end + 2].lower in _SHOPS:
        return True  # "a nasal spray from the chemist": where to get it
    if following in _NOT_TAKEN or following in LOG_WORDS:
        return False  # "your medication list", "your medicine notes"
    if tokens[start].lower == "tablets" and any(
        t.lower in _DEVICES for t in tokens[max(0, start - 3) : end + 3]
    ):
        return False  # "phones and tablets": the screens, not the pills
    # "foods rich in magnesium"
    return not (
        start >= 2 and tokens[start - 1].lower in _FOOD_LINKS and tokens[start - 2].lower in _FOOD_HEADS
    )


def medicines(tokens: list[Token], vocabulary: Vocabulary) -> list[tuple[int, int]]:
    """Where each medicine in ``tokens`` named as one (a thing to take) starts and ends."""
    return [(start, end) for start, end, _ in hits(tokens, vocabulary, MEDICINE) if taken(tokens, start, end)]


def find_medicine(tokens: list[Token], vocabulary: Vocabulary) -> Token | None:
    """The first word of the first medicine in ``tokens`` named as one, or ``None``."""
    found = medicines(tokens, vocabulary)
    return tokens[found[0][0]] if found else None
