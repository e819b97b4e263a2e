"""Finds the clause that makes a medical claim: the frame around a condition or a medicine.

A condition or a medicine on its own is never a finding: "Migraine came up three times",
"You noted taking ibuprofen on Tuesday". A finding needs a frame, a fixed phrase whose
complement (the words after it, up to the end of the clause) names one:

- diagnosis: the person is said to have a condition ("you have", "you are probably",
  "this is", "points to", "looks like", "consistent with", "a sign of", "due to"), or a
  bodily state is asserted ("your iron is low");
- alarm: a serious condition is raised as a possibility ("could be", "might mean",
  "may signal", "could lead to" ... a stroke, a tumour, something serious);
- medication: a medicine is the object of an instruction or a suggestion ("take", "stop",
  "double", "you could try", "consider", "how about"), the subject of a promise ("... could
  help", "... is worth a try"), is timed ("... before bed", "twice a day"), or a dose is given
  ("400 mg", "two tablets").

Clauses end at sentence punctuation, commas, colons, semicolons, brackets, dashes and line
breaks, so one bad clause in a long paragraph is found and a condition in one clause never
completes a frame in the next. Around a match, the words that make it ordinary language are
let through: a condition followed by a word of the log ("migraine days", "asthma entries"),
by a verb that starts a new clause ("looks like migraine is easing"), or counted ("more
migraine"); a medicine after a doctor or pharmacist in the same clause ("ask your
pharmacist whether an antihistamine could help"); a timed medicine the person is reported
to have taken ("you took ibuprofen before bed").
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from worker.safety.vocabulary import (
    ADJECTIVE,
    CAPITALS,
    CONDITION,
    LONGEST_PHRASE,
    MEDICINE,
    NUTRIENT,
    SERIOUS,
    Vocabulary,
    american,
    ending_flags,
    load_vocabulary,
)

Kind = Literal["diagnosis", "alarm", "medication"]


@dataclass(frozen=True, slots=True)
class Finding:
    """What a refused text does, by kind and by the rule that caught it; never its words."""

    kind: Kind
    rule: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.rule})"


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


class _Token(NamedTuple):
    lower: str
    cased: str
    start: int


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})
# A comma or a full stop between digits ("4,000", "2.5") is part of a number, not a cut.
_BOUNDARY = re.compile(r'[!?;:()\[\]{}"\n\u2014\u2013]|[.,](?!\d)|\s-\s')
_SENTENCE_END = re.compile(r"[!?\n]|\.(?!\d)")
_TOKEN = re.compile(r"[a-z0-9µ]+(?:['/-][a-z0-9]+)*")
_WORD_CHARS = 16  # a window of n words reads at most n * 16 characters of its clause


class _Text:
    """One text, lower-cased for matching, with its case kept for acronyms and its clauses."""

    def __init__(self, text: str) -> None:
        cased = text if text.isascii() else text.translate(_QUOTES)
        lower = cased.lower()
        # A few characters change length when lower-cased; then case is not kept.
        self.cased = cased if len(lower) == len(cased) else lower
        self.lower = lower
        self._cuts: list[int] | None = None

    def clauses(self) -> list[tuple[int, int]]:
        """Where each clause starts and ends, in order."""
        if self._cuts is None:
            self._cuts = [m.start() for m in _BOUNDARY.finditer(self.lower)]
        starts = [0, *(cut + 1 for cut in self._cuts)]
        return list(zip(starts, [*self._cuts, len(self.lower)], strict=True))

    def sentence(self, position: int) -> tuple[int, int]:
        """Where the sentence around ``position`` starts and ends."""
        lower = self.lower
        start = max((m.end() for m in _SENTENCE_END.finditer(lower, 0, position)), default=0)
        found = _SENTENCE_END.search(lower, position)
        return start, found.start() if found else len(lower)

    def quoted(self, position: int) -> bool:
        """Whether ``position`` lies inside quotation marks: the person's own words."""
        lower = self.lower
        start, _end = self.sentence(position)
        for mark in ("'", '"'):
            opened = False
            for index in range(start, position):
                if lower[index] != mark:
                    continue
                before = lower[index - 1] if index else " "
                after = lower[index + 1] if index + 1 < len(lower) else " "
                if not opened and not before.isalnum() and after.isalnum():
                    opened = True
                elif opened and before.isalnum() and not after.isalnum():
                    opened = False
            if opened:
                return True
        return False

    def clause(self, position: int) -> tuple[int, int]:
        """Where the clause around ``position`` starts and ends."""
        if self._cuts is None:
            self._cuts = [m.start() for m in _BOUNDARY.finditer(self.lower)]
        index = bisect.bisect_right(self._cuts, position)
        start = self._cuts[index - 1] + 1 if index else 0
        end = self._cuts[index] if index < len(self._cuts) else len(self.lower)
        return start, end

    def tokens(self, start: int, end: int) -> list[_Token]:
        """The words between ``start`` and ``end``."""
        cased = self.cased
        return [
            _Token(m.group(), cased[m.start() : m.end()], m.start())
            for m in _TOKEN.finditer(self.lower, start, end)
        ]

    def after(self, match: re.Match[str], limit: int) -> list[_Token]:
        """Up to ``limit`` words after ``match``, in its clause."""
        _, end = self.clause(match.start())
        # End at a word boundary so that the last word is never a fragment.
        stop = min(end, match.end() + limit * _WORD_CHARS)
        while stop < end and self.lower[stop].isalnum():
            stop += 1
        return self.tokens(match.end(), stop)[:limit]

    def before(self, match: re.Match[str], limit: int) -> list[_Token]:
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


def _hits(tokens: list[_Token], vocabulary: Vocabulary, wanted: int) -> list[tuple[int, int, int]]:
    """Each phrase in ``tokens`` with a ``wanted`` flag: (first word, past last word, flags)."""
    found = []
    words = [t.lower for t in tokens]
    count = len(words)
    for i in range(count):
        flags = 0
        size = 1
        if words[i] in vocabulary.starts:
            for size in range(min(LONGEST_PHRASE, count - i), 1, -1):
                phrase = " ".join(words[i : i + size])
                flags = vocabulary.terms.get(phrase, 0) or vocabulary.terms.get(american(phrase), 0)
                if flags & wanted:
                    break
            else:
                size = 1
        if size == 1:
            flags = vocabulary.words.get(words[i], 0) or ending_flags(words[i])
            if flags & CAPITALS and not _in_capitals(tokens[i].cased):
                flags = 0
        if flags & wanted:
            found.append((i, i + size, flags))
    return found


# Words after a condition that make it the name of something logged.
_LOG_WORDS = _words(
    "entries entry log logs logged logging pattern patterns check-in check-ins checkins days day "
    "week weeks weekend mornings morning evenings evening nights night episodes episode flare "
    "flares flare-up flare-ups symptom symptoms scan scans note notes record records tracking "
    "tracker history trend trends streak streaks rhythm count counts score scores severity "
    "scale routine routines reminder reminders diary journal readings reading trigger triggers "
    "spell spells bout bouts season cycle timeline numbers care management plan app category "
    "label tag free-days prevention support awareness research"
)
# Words after a condition that make it the subject of a new clause ("looks like migraine
# is easing"), not the complement of the frame.
_CLAUSE_VERBS = _words(
    "is was are were has had have may might could will would can should seems seemed tends "
    "tended keeps kept did does came comes come eased eases ease dropped drops rose rises "
    "stayed stays showed shows appeared appears went goes returned returns return settled "
    "settles fell falls picked picks flared flares improved improves increased decreased "
    "spiked faded fades lessened lessens started starts continued continues hit hits "
    "isn't wasn't didn't doesn't hasn't"
)
# Words before a condition that count it ("more migraine than usual").
_QUANTITIES = _words("more less fewer some extra another no any most")
_PREPOSITIONS = _words("for with without about from around during on in")
_TIMES = _words("time times first last")
# Words that end the complement of a diagnosis frame.
_CLAUSE_STARTS = _words(
    "when whenever if while because since so but which that who where after before until "
    "once though although whereas unless than as whether"
)


def _complement(tokens: list[_Token]) -> list[_Token]:
    for index, token in enumerate(tokens):
        if token.lower in _CLAUSE_STARTS:
            return tokens[:index]
    return tokens


def _condition(tokens: list[_Token], vocabulary: Vocabulary, *, clause: bool = False) -> int:
    """The flags of the first condition the complement names as such, or 0.

    ``clause`` says the frame may take a clause ("looks like migraine is easing"): a bare
    condition followed by a verb is then that clause's subject, not a claim.
    """
    tokens = _complement(tokens)
    for start, end, flags in _hits(tokens, vocabulary, CONDITION):
        following = tokens[end].lower if end < len(tokens) else ""
        preceding = tokens[start - 1].lower if start else ""
        if following in _LOG_WORDS or preceding in _QUANTITIES:
            continue
        if preceding == "your":
            continue  # "contributing to your anxiety": the person's own name for what they log
        if preceding in _PREPOSITIONS:
            continue  # "a steadier week for asthma": the condition qualifies another noun
        if following in _CLAUSE_VERBS and (
            preceding in _LOG_WORDS or preceding in _TIMES or (clause and start == 0)
        ):
            continue  # "the third week migraine came up", "looks like migraine is easing"
        return flags
    return 0


_FOOD_HEADS = _words("rich high source sources foods food such")
_FOOD_LINKS = _words("in of like with containing as")
_DOSE_WORDS = frozenset({"dose", "doses", "dosage"})
# Words after a medicine that make it an attribute or a source, not the thing taken:
# "your medication list", "chamomile tea", "vitamin d from daylight", "iron out".
_NOT_TAKEN = _words(
    "list lists schedule log logs diary box organiser organizer reminder reminders review "
    "reviews history records entries names questions leaflet label labels use tea teas from out side "
    "machine machines"
)
_DEVICES = _words("phone phones screen screens laptop laptops device devices computer computers tv ipad")
# Words before a medicine that make the instruction about noticing, not taking, it.
_NOTICING = _words(
    "track note notes noting log logging record recording list diary journal when whenever "
    "how what which whether"
)


def _medicines(tokens: list[_Token], vocabulary: Vocabulary) -> list[_Token]:
    """The first word of each medicine in ``tokens`` named as one (as a thing to take)."""
    found = []
    for start, end, _ in _hits(tokens, vocabulary, MEDICINE):
        following = tokens[end].lower if end < len(tokens) else ""
        if tokens[start].lower in _DOSE_WORDS and following == "of":
            continue  # "a dose of fresh air"; a dose of a medicine names the medicine too
        if following in _NOT_TAKEN or following in _LOG_WORDS:
            continue  # "your medication list", "your medicine notes"
        if tokens[start].lower == "tablets" and any(
            t.lower in _DEVICES for t in tokens[max(0, start - 3) : end + 3]
        ):
            continue  # "phones and tablets": the screens, not the pills
        if start >= 2 and tokens[start - 1].lower in _FOOD_LINKS and tokens[start - 2].lower in _FOOD_HEADS:
            continue  # "foods rich in magnesium"
        found.append(tokens[start])
    return found


def _medicine(tokens: list[_Token], vocabulary: Vocabulary) -> _Token | None:
    """The first word of the first medicine in ``tokens`` named as one, or ``None``."""
    found = _medicines(tokens, vocabulary)
    return found[0] if found else None


_CLINICIAN = re.compile(
    r"\b(?:doctors?|gps?|physicians?|pharmacists?|pharmacy|nurses?|clinicians?|specialists?|"
    r"consultants?|prescribers?|care team|health ?care (?:provider|professional|team)s?|"
    r"health professionals?|medical professionals?|providers?|dentists?|midwife|midwives|"
    r"practitioners?|clinic|allergists?|neurologists?|cardiologists?|dermatologists?|"
    r"psychiatrists?|dr)\b"
)
_NOT_WITHOUT = re.compile(r"\b(?:do not|don't|dont|never)\b.*\bwithout\b")
_REPORTED = _words(
    "noted logged mentioned recorded reported wrote said listed entered tracked took used had "
    "tried started stopped marked added skipped missed found felt"
)


def _noticed(tokens: list[_Token], medicine: _Token) -> bool:
    """Whether the words before ``medicine`` make it something to notice or log, not take."""
    return any(t.lower in _NOTICING for t in tokens if t.start < medicine.start)


# Between a clinician and a medicine, words that turn a referral into a request for the drug:
# "ask your doctor to prescribe antibiotics", "ask your pharmacist for an antihistamine".
_TOWARD_THE_DRUG = re.compile(
    r"(?<!who )(?<!that )\bprescrib\w*|\b(?:give you|put you on|start you on|switch you to|increase|"
    r"increasing|raise|lower|reduce|up|upping)\b"
    r"|\bfor(?: a| an| some| your| the)?\s*$"
)


def _referred(view: _Text, medicine: _Token) -> bool:
    """Whether the clause sends the person to a clinician about ``medicine`` (a referral)."""
    start, end = view.clause(medicine.start)
    clinician = _CLINICIAN.search(view.lower, start, medicine.start)
    if clinician:
        return not _TOWARD_THE_DRUG.search(view.lower, clinician.end(), medicine.start)
    clause = view.lower[start:end]
    return bool(_NOT_WITHOUT.search(clause) and _CLINICIAN.search(clause))


def _reported(view: _Text, medicine: _Token) -> bool:
    """Whether the clause reports that the person took ``medicine`` ("you took ... before bed")."""
    start, _ = view.clause(medicine.start)
    return any(t.lower in _REPORTED for t in view.tokens(start, medicine.start))


# -- the frames --------------------------------------------------------------------------------
#
# A frame is a fixed phrase that opens with a literal word. Texts are matched only against
# the frames whose first word they contain, and each pattern starts with that word, so the
# regular expression engine finds candidates with a plain substring search.

_HEDGE = (
    r"(?:probably|likely|possibly|perhaps|maybe|clearly|definitely|certainly|almost certainly|"
    r"most likely|very likely|quite likely|already|now|also|still|actually|really|just|well|"
    r"even|potentially|simply)"
)
_DEGREE = (
    r"(?:a bit|a little|slightly|mildly|somewhat|quite|very|borderline|clinically|becoming|"
    r"getting|rather|fairly|a|an)"
)
_MODALS = ("could", "might", "may", "can", "would", "must", "will")
_MODAL = "(?:" + "|".join(_MODALS) + ")"

_VERBS = (
    "take",
    "start",
    "begin",
    "stop",
    "quit",
    "discontinue",
    "skip",
    "pause",
    "resume",
    "restart",
    "continue",
    "keep",
    "reduce",
    "lower",
    "increase",
    "raise",
    "up your",
    "double",
    "halve",
    "cut",
    "switch",
    "swap",
    "change",
    "adjust",
    "use",
    "try",
    "add",
    "avoid",
    "have",
    "pop",
    "apply",
    "swallow",
    "split",
    "space out",
    "time",
    "combine",
    "mix",
    "replace",
    "drop",
    "come off",
    "get off",
    "go off",
    "go on",
    "get on",
    "wean off",
    "wean yourself off",
    "taper",
    "supplement with",
    "consider",
    "give",
    "carry",
    "bring",
    "pick up",
    "buy",
    "get",
    "grab",
    "stock up on",
    "reach for",
    "opt for",
    "go for",
    "rely on",
    "lay off",
    "hold off on",
    "ease off",
    "stay on",
    "stay off",
    "inhale",
    "inject",
    "chew",
    "dissolve",
    "finish",
    "ask for",
)


_DOUBLED = frozenset(
    {"begin", "quit", "split", "up", "stop", "skip", "cut", "pop", "swap", "drop", "get", "grab"}
)


def _gerund(verb: str) -> str:
    first, _, rest = verb.partition(" ")
    if first in _DOUBLED:
        first += first[-1]  # stop -> stopping
    elif first.endswith("e"):
        first = first[:-1]  # take -> taking
    return f"{first}ing" + (f" {rest}" if rest else "")


_VERB = "(?:" + "|".join(sorted(_VERBS, key=len, reverse=True)) + ")"
_GERUND = "(?:" + "|".join(sorted((_gerund(v) for v in _VERBS), key=len, reverse=True)) + ")"

_PARTICIPLES = _words(
    "had been done kept made seen felt slept taken shown gone come given written spent begun "
    "grown become eaten drunk put set run met got tried"
)
_ONLY_IF_SERIOUS = frozenset(
    {"turn into", "develop into", "progress to", "progress into", "lead to", "escalate into", "become"}
)
_HEDGES = _words("could might may can sometimes occasionally possibly potentially rarely")
_IMPERATIVE_CONTEXT = re.compile(
    r"(?:^|\b(?:and|then|or|so|but)\s)\s*(?:[-*\u2022]\s*)?"
    r"(?:(?:please|just|maybe|perhaps|simply|also|now|gently|always|never|instead|first|do not|"
    r"don't|dont|try to|remember to|be sure to|make sure to|make sure you|don't forget to|do)\s+)*$"
)
_DOSE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s?(?:mg|mcg|\u00b5g|ug|milligrams?|micrograms?|iu|international units)\b"
    r"|\b(?:\d+|one|two|three|four|five|six|half an?|a half|an extra|a double|a single)\s"
    r"(?:tablets?|pills?|capsules?|puffs?|drops?|sachets?|lozenges?|doses?|teaspoons?|spoonfuls?)\b"
)
_DOSE_UNITS = _words(
    "mg mcg \u00b5g ug milligram milligrams microgram micrograms iu units tablet tablets pill pills capsule "
    "capsules puff puffs drop drops sachet sachets lozenge lozenges dose doses teaspoon teaspoons "
    "spoonful spoonfuls"
)


# -- what each frame checks ----------------------------------------------------------------------

_DIAGNOSIS_WINDOW = 8
_MEDICINE_WINDOW = 10


def _have(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    tokens = view.after(match, _DIAGNOSIS_WINDOW)
    if tokens and (tokens[0].lower in _PARTICIPLES or tokens[0].lower.endswith("ed")):
        return None  # "you have had", "you have logged": a report, not a claim
    if _condition(tokens, vocabulary):
        return Finding("diagnosis", "asserted_condition")
    return None


def _asserted(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    if _condition(view.after(match, _DIAGNOSIS_WINDOW), vocabulary):
        return Finding("diagnosis", "asserted_condition")
    return None


def _described(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    tokens = view.after(match, 5)
    words = [t.lower for t in tokens]
    if len(words) >= 3 and words[0] in {"low", "deficient", "short", "lacking"} and words[1] in {"in", "on"}:
        if _hits(tokens[2:5], vocabulary, NUTRIENT | MEDICINE):
            return Finding("diagnosis", "deficiency_claim")
        return None
    if any(start <= 1 for start, _, _ in _hits(tokens[:3], vocabulary, ADJECTIVE)):
        return Finding("diagnosis", "condition_adjective")
    return None


def _suggestion(view: _Text, match: re.Match[str], flags: int, rule: str) -> Finding | None:
    """A suggested condition; a serious one hedged in its clause ("can be a sign of") alarms."""
    if not flags:
        return None
    if flags & SERIOUS and any(t.lower in _HEDGES for t in view.before(match, _DIAGNOSIS_WINDOW)):
        return Finding("alarm", "serious_speculation")
    return Finding("diagnosis", rule)


def _suggested(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    flags = _condition(view.after(match, _DIAGNOSIS_WINDOW), vocabulary, clause=True)
    return _suggestion(view, match, flags, "suggested_condition")


def _sign_of(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    if any(t.lower in _REPORTED for t in view.before(match, 3)):
        return None  # "you logged signs of asthma": what the person recorded
    flags = _condition(view.after(match, _DIAGNOSIS_WINDOW), vocabulary)
    return _suggestion(view, match, flags, "suggested_condition")


def _attributed(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    flags = _condition(view.after(match, _DIAGNOSIS_WINDOW), vocabulary)
    return _suggestion(view, match, flags, "attributed_condition")


def _speculated(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    flags = _condition(view.after(match, _DIAGNOSIS_WINDOW), vocabulary, clause=True)
    if flags & SERIOUS:
        return Finding("alarm", "serious_speculation")
    if flags and match.group("verb") not in _ONLY_IF_SERIOUS:
        return Finding("diagnosis", "suggested_condition")
    return None


_NOT_A_DIAGNOSIS_SUBJECT = _words("most main top usual common frequent busiest worst best logged")


def _yours(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """``your <something> is <condition>``, unless the something is a log ("your most logged
    symptom is migraine")."""
    subject = set(match.group().split()[1:-1])
    if subject & (_LOG_WORDS | _NOT_A_DIAGNOSIS_SUBJECT):
        return None
    return _asserted(view, match, vocabulary)


def _found_helpful(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """``find <medicine> helpful``: a recommendation, unless it reports what the person found."""
    tokens = view.before(match, 6)
    if not any(t.lower in {"find", "finds"} for t in tokens):
        return None
    medicine = _medicine(tokens, vocabulary)
    if medicine is None or _referred(view, medicine) or _reported(view, medicine):
        return None
    return Finding("medication", "medication_suggestion")


def _body_state(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    return Finding("diagnosis", "body_state_claim")


def _instructed(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    tokens = view.after(match, _MEDICINE_WINDOW)
    if tokens and tokens[0].lower in {"of", "in"}:
        return None  # "use of your inhaler dropped", "a change in": nouns, not instructions
    medicine = _medicine(tokens, vocabulary)
    if medicine is None or _referred(view, medicine) or _noticed(tokens, medicine):
        return None
    return Finding("medication", "medication_instruction")


def _imperative(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    start, _ = view.clause(match.start())
    if not _IMPERATIVE_CONTEXT.search(view.lower[start : match.start()]):
        return None  # the verb does not open its clause: "on days you take ..."
    return _instructed(view, match, vocabulary)


def _proposed(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    tokens = view.after(match, _MEDICINE_WINDOW)
    medicine = _medicine(tokens, vocabulary)
    if medicine is None or _referred(view, medicine) or _noticed(tokens, medicine):
        return None
    return Finding("medication", "medication_suggestion")


def _promised(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    tokens = view.before(match, _MEDICINE_WINDOW)
    medicine = _medicine(tokens, vocabulary)
    if medicine is None or _referred(view, medicine) or _reported(view, medicine):
        return None
    if _noticed(tokens, medicine):
        return None  # "noting when you take painkillers could help": a logging step
    return Finding("medication", "medication_suggestion")


def _timed(view: _Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    medicine = _medicine(view.before(match, 4), vocabulary)
    if medicine is None or _referred(view, medicine) or _reported(view, medicine):
        return None
    return Finding("medication", "medication_timing")


_Check = Callable[[_Text, re.Match[str], Vocabulary], Finding | None]


@dataclass(frozen=True)
class _Frame:
    """Phrases that open with one of ``firsts`` and go on with ``rest``; ``needs`` says which
    kind of word a text must hold for the frame to matter."""

    firsts: tuple[str, ...]
    rest: str
    check: _Check
    needs: int


def _frames(firsts: str | tuple[str, ...], rest: str, check: _Check, needs: int) -> _Frame:
    return _Frame(tuple(firsts.split()) if isinstance(firsts, str) else firsts, rest, check, needs)


def _rests(first: str) -> str:
    """What may follow ``first`` in the instruction verbs ("get" -> " off", " on" or nothing)."""
    rests = sorted(
        (re.escape(v[len(first) :]) for v in _VERBS if v.split()[0] == first), key=len, reverse=True
    )
    return "(?:" + "|".join(rests) + r")\b"


_YOU_HAVE = r"(?:'ve| have)"
_YOU_ARE = r"(?:'re| are)"
_SIGNS_OF = r"(?:early |the first |some )?signs of"

# In order of precedence: speculation before the other diagnosis frames, so "may indicate a
# tumour" is an alarm rather than a suggested diagnosis.
_FRAMES = (
    # alarm or diagnosis: speculation
    _frames(
        _MODALS,
        rf"(?: not)?(?: (?:this|that|it|these|those))?(?: {_HEDGE})* (?P<verb>be|mean|signal|indicate|"
        r"suggest|point to|hint at|turn into|"
        r"develop into|progress to|progress into|lead to|escalate into|become|end up as)\b",
        _speculated,
        CONDITION,
    ),
    # diagnosis: the person has it
    _frames("you", rf"(?: {_HEDGE})*{_YOU_HAVE}(?: {_HEDGE})*(?: got| developed)?\b", _have, CONDITION),
    _frames("you've", rf"(?: {_HEDGE})*(?: got| developed)?\b", _have, CONDITION),
    _frames(
        "you",
        rf"(?: {_HEDGE})* {_MODAL}(?: {_HEDGE})* (?:have|develop|be developing|be suffering from|"
        rf"suffer from|be showing {_SIGNS_OF}|be living with|be in the (?:early )?stages? of)\b"
        rf"|(?: {_HEDGE})* (?:suffer|suffered|suffers) from\b"
        rf"|{_YOU_ARE}(?: {_HEDGE})* (?:suffering from|developing|showing {_SIGNS_OF}|living with|"
        r"at risk (?:of|for)|in the (?:early )?stages? of|prone to|heading for|heading towards|"
        r"dealing with|coping with|battling|struggling with)\b"
        rf"|(?: {_HEDGE})* (?:seem|appear) to (?:have|be developing|be suffering from)\b",
        _asserted,
        CONDITION,
    ),
    _frames(
        "you're",
        rf"(?: {_HEDGE})* (?:suffering from|developing|showing {_SIGNS_OF}|living with|"
        r"at risk (?:of|for)|in the (?:early )?stages? of|prone to|heading for|heading towards|"
        r"dealing with|coping with|battling|struggling with)\b",
        _asserted,
        CONDITION,
    ),
    _frames(
        "you",
        rf"{_YOU_ARE}(?: {_HEDGE}| {_DEGREE})*\b"
        rf"|(?: {_HEDGE})* {_MODAL}(?: {_HEDGE})* be(?: {_HEDGE}| {_DEGREE})*\b"
        rf"|(?: {_HEDGE})* (?:seem|appear|sound|look)(?: to be)?(?: {_HEDGE}| {_DEGREE})*\b",
        _described,
        CONDITION | ADJECTIVE | NUTRIENT,
    ),
    _frames("you're", rf"(?: {_HEDGE}| {_DEGREE})*\b", _described, CONDITION | ADJECTIVE | NUTRIENT),
    _frames("this that it these those which", rf"(?: is| are)(?: {_HEDGE})*\b", _asserted, CONDITION),
    _frames("it's that's", rf"(?: {_HEDGE})*\b", _asserted, CONDITION),
    _frames("this that it these those which", rf" (?:was|were)(?: {_HEDGE})+\b", _asserted, CONDITION),
    _frames(
        "is are was were",
        r"(?: (?:probably|likely|possibly|almost certainly|most likely|clearly|definitely|certainly|"
        r"perhaps|maybe))+\b",
        _asserted,
        CONDITION,
    ),
    # diagnosis: something about the person points to it
    _frames("point points pointed pointing", r" (?:to|towards?|at)\b", _suggested, CONDITION),
    _frames(
        "suggest suggests suggested suggesting indicate indicates indicated indicating signal signals "
        "signalled signaled signalling signaling imply implies implied implying mean means resemble "
        "resembles resembled resembling",
        r"\b",
        _suggested,
        CONDITION,
    ),
    _frames("hint hints hinted hinting", r" at\b", _suggested, CONDITION),
    _frames(
        "look looks looked looking sound sounds sounded sounding seem seems seemed seeming feel feels",
        r" like\b",
        _suggested,
        CONDITION,
    ),
    _frames(
        "suggestive indicative typical characteristic classic symptomatic diagnostic hallmark hallmarks "
        "onset",
        r" of\b",
        _suggested,
        CONDITION,
    ),
    _frames("textbook", r"(?: case)? of\b", _suggested, CONDITION),
    _frames("consistent compatible keeping", r" with\b", _suggested, CONDITION),
    _frames(
        "match matches matched matching fit fits fitting",
        r" (?:the |a )?(?:pattern|picture|profile|description|criteria|presentation) (?:of|for)\b",
        _suggested,
        CONDITION,
    ),
    _frames("case form type start beginning beginnings stage stages", r" of\b", _suggested, CONDITION),
    _frames(
        "diagnosis diagnoses diagnosed diagnose diagnosing", r"(?: (?:of|with|as))?\b", _suggested, CONDITION
    ),
    _frames(
        "checked tested screened evaluated assessed examined check test screen",
        r" for\b",
        _suggested,
        CONDITION,
    ),
    _frames("rule ruling ruled", r" out\b", _suggested, CONDITION),
    _frames(
        "your",
        r"(?: [a-z'-]+){1,3} (?:is|are)(?: {_HEDGE})*\b".replace("{_HEDGE}", _HEDGE),
        _yours,
        CONDITION,
    ),
    _frames(
        "sign signs symptom symptoms indication indications indicator indicators marker markers flag "
        "flags evidence manifestation manifestations",
        r" (?:of|for)\b",
        _sign_of,
        CONDITION,
    ),
    _frames("due linked related attributable secondary down", r" to\b", _attributed, CONDITION),
    _frames("caused driven explained", r" by\b", _attributed, CONDITION),
    _frames("because result consequence", r" of\b", _attributed, CONDITION),
    _frames("brought", r" on by\b", _attributed, CONDITION),
    _frames("associated", r" with\b", _attributed, CONDITION),
    _frames("stemming", r" from\b", _attributed, CONDITION),
    _frames(
        "your",
        r" (?:blood sugar|blood glucose|sugar|blood pressure|bp|iron|ferritin|thyroid|hormones?|"
        r"cholesterol|vitamin [a-z0-9]+|b12|heart rate|heart rhythm|oxygen|electrolytes|"
        r"immune system|cortisol|blood count|kidneys?|liver)(?: levels?)? (?:is|are|was|were|may be|"
        r"might be|could be|seems?|looks?|appears?|is probably|are probably|is likely|are likely)"
        rf"(?: to be)?(?: {_HEDGE})* (?:too |quite |very |a bit |slightly |dangerously )?"
        r"(?:low|high|off|elevated|raised|underactive|overactive|out of balance|imbalanced|abnormal|"
        r"irregular|unstable|deficient|struggling|compromised|weak|failing)\b",
        _body_state,
        0,
    ),
    # medication: an instruction
    *(
        _frames(first, _rests(first), _imperative, MEDICINE)
        for first in dict.fromkeys(v.split()[0] for v in _VERBS)
    ),
    _frames(
        "you",
        rf"(?: {_HEDGE})* (?:could|might|may|should|can|would|will|must|need to|ought to|have to)"
        r"(?: (?:also|then|just|still|really|want to|like to|wish to|need to|try to|consider|start|keep|"
        rf"begin|stop|avoid|try|think about|look into))* (?:{_VERB}|{_GERUND})\b",
        _instructed,
        MEDICINE,
    ),
    _frames(
        "you'd you'll",
        rf"(?: (?:also|then|just|want to|like to|need to|try to))* (?:{_VERB}|{_GERUND})\b",
        _instructed,
        MEDICINE,
    ),
    _frames(
        "it this",
        rf"(?: {_MODAL}| is| would be| might be| may be| could be)?(?: also)? (?:help|helps|be worth|worth|"
        r"be wise|wise|be a good idea|a good idea|be best|best|be useful|useful|be helpful|helpful|pay) "
        rf"(?:to )?(?:{_VERB}|{_GERUND})\b",
        _instructed,
        MEDICINE,
    ),
    _frames(
        "worth recommend suggest advise try consider about avoid start stop keep begin continue quit resume",
        rf"\s+{_GERUND}\b",
        _instructed,
        MEDICINE,
    ),
    _frames("think look", rf" (?:about|into)\s+{_GERUND}\b", _instructed, MEDICINE),
    _frames("let's", rf" {_VERB}\b", _instructed, MEDICINE),
    _frames("let", rf" us {_VERB}\b", _instructed, MEDICINE),
    _frames(
        (*_MODALS, "should"),
        r"(?: \w+)? (?:ease|improve|settle|lessen|drop|fall|calm|get better|go away|stop|clear up|ease off) "
        rf"(?:if|once|when) you (?:{_VERB}|{_GERUND})\b",
        _instructed,
        MEDICINE,
    ),
    # medication: a suggestion
    _frames("how what", r" about\b", _proposed, MEDICINE),
    _frames("have", r" you (?:thought about|considered|tried)\b", _proposed, MEDICINE),
    _frames("consider try recommend suggest", r"\b", _proposed, MEDICINE),
    _frames("switch switching", r" to\b", _proposed, MEDICINE),
    _frames("benefit benefits", r" from\b", _proposed, MEDICINE),
    _frames("ask", r"(?: (?:your|a|the) [a-z]+)? for\b", _proposed, MEDICINE),
    _frames("prescribe prescribing", r"\b", _proposed, MEDICINE),
    _frames("swap swapping", r" (?:to|for)\b", _proposed, MEDICINE),
    _frames("course trial", r" of\b", _proposed, MEDICINE),
    _frames(
        (*_MODALS, "should"),
        r"(?: also| really| probably| possibly| even)? (?:help|ease|relieve|reduce|soothe|calm|settle|"
        r"improve|prevent|stop|fix|treat|cure|manage|lessen|lower|boost|support|make a difference|"
        r"take the edge off|be an option|be useful|be helpful|work|do the trick|be the answer|shorten|"
        r"protect|clear|"
        r"speed up|"
        r"clear (?:it |this |that )?up|sort (?:it |this |that )?out|get rid of|"
        rf"knock (?:it |this |that )?out|be worth (?:a try|a shot|{_GERUND}|considering))\b",
        _promised,
        MEDICINE,
    ),
    _frames(
        "is are",
        r" (?:a good (?:option|idea|choice|bet)|an option|recommended|advisable|helpful for|good for|"
        rf"great for|the answer|worth (?:a try|a shot|{_GERUND}|considering))\b",
        _promised,
        MEDICINE,
    ),
    _frames(
        "helps eases relieves soothes calms improves prevents supports reduces", r"\b", _promised, MEDICINE
    ),
    _frames("works", r"(?: well)? for\b", _promised, MEDICINE),
    _frames("helpful useful effective", r"\b", _found_helpful, MEDICINE),
    _frames("forget", r"\b", _instructed, MEDICINE),
    _frames("time", rf" to (?:{_VERB}|{_GERUND})\b", _instructed, MEDICINE),
    # medication: a time to take it
    _frames("before", r" (?:bed|bedtime|sleep|meals|eating)\b", _timed, MEDICINE),
    _frames("at", r" (?:bedtime|night|the first sign)\b", _timed, MEDICINE),
    _frames(
        "every each",
        r" (?:day|night|morning|evening|(?:\d+|two|three|four|five|six|eight|twelve|few) hours)\b",
        _timed,
        MEDICINE,
    ),
    _frames("nightly daily", r"\b", _timed, MEDICINE),
    _frames("in", r" the (?:morning|evening)\b", _timed, MEDICINE),
    _frames("once twice times", r" (?:a|per|each) day\b", _timed, MEDICINE),
    _frames("with", r" (?:food|meals|a meal)\b", _timed, MEDICINE),
    _frames("on", r" an empty stomach\b", _timed, MEDICINE),
    _frames("after", r" (?:meals|eating)\b", _timed, MEDICINE),
    _frames("as when", r" needed\b", _timed, MEDICINE),
)


class _Entry(NamedTuple):
    """One frame under one first word, in the frames' order of precedence."""

    order: int
    pattern: re.Pattern[str]
    check: _Check
    needs: int


def _entries() -> dict[str, tuple[_Entry, ...]]:
    by_first: dict[str, list[_Entry]] = {}
    for order, frame in enumerate(_FRAMES):
        for first in frame.firsts:
            pattern = re.compile(re.escape(first) + "(?:" + frame.rest + ")")
            by_first.setdefault(first, []).append(_Entry(order, pattern, frame.check, frame.needs))
    return {first: tuple(entries) for first, entries in by_first.items()}


_FIRST_WORDS = frozenset(first for frame in _FRAMES for first in frame.firsts)
# Compiled on first use, like the vocabulary is loaded: importing the guard compiles none of
# its 300 patterns.
_compile_lock = threading.Lock()
_compiled: list[dict[str, tuple[_Entry, ...]]] = []


def _entries_by_first_word() -> dict[str, tuple[_Entry, ...]]:
    if not _compiled:
        with _compile_lock:
            if not _compiled:
                _compiled.append(_entries())
    return _compiled[0]


def _opens_word(text: str, position: int) -> bool:
    return position == 0 or not (text[position - 1].isalnum() or text[position - 1] in "'-")


def _named(words: set[str], vocabulary: Vocabulary) -> int:
    """The kinds of word (condition, medicine, ...) the text may name, from its key words."""
    found = 0
    for word in words.intersection(vocabulary.key_words):
        found |= vocabulary.keys[word]
    return found


def check_text(text: str) -> Finding | None:
    """The first medical claim in ``text`` (English), or ``None`` when it makes none.

    The finding names the kind and the rule, never the words. The first call in a process
    loads the vocabulary (seconds; see :func:`worker.safety.load_vocabulary`).
    """
    if not text or text.isspace():
        return None
    vocabulary = load_vocabulary()
    view = _Text(text)
    lower = view.lower
    words = set(_TOKEN.findall(lower))
    if (not words.isdisjoint(_DOSE_UNITS) or "mg" in lower or "mcg" in lower or "iu" in lower) and (
        _DOSE.search(lower)
    ):
        return Finding("medication", "dose_amount")
    named = _named(words, vocabulary)
    entries = _entries_by_first_word()
    candidates = [
        entry
        for first in words.intersection(_FIRST_WORDS)
        for entry in entries[first]
        if not entry.needs or entry.needs & named
    ]
    candidates.sort(key=_by_order)
    for entry in candidates:
        for match in entry.pattern.finditer(lower):
            if not _opens_word(lower, match.start()):
                continue
            finding = entry.check(view, match, vocabulary)
            if finding is not None:
                return finding
    return None


def _by_order(entry: _Entry) -> int:
    return entry.order
