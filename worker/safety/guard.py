"""Finds the clause that makes a medical claim: the frame around a condition or a medicine,
then the default for a name that no frame caught.

A finding first needs a frame, a fixed phrase whose complement (the words after it, up to the
end of the clause) names one:

- diagnosis: the person is said to have a condition ("you have", "you are probably",
  "this is", "points to", "looks like", "consistent with", "a sign of", "due to"), or a
  bodily state is asserted ("your iron is low");
- alarm: a serious condition is raised as a possibility ("could be", "might mean",
  "may signal", "could lead to" ... a stroke, a tumour, something serious), or an organ is
  ("could be your heart", "your appendix could burst", "your liver could be damaged");
- medication: a medicine is the object of an instruction or a suggestion ("take", "stop",
  "double", "you could try", "consider", "how about"), the subject of a promise ("... could
  help", "... is worth a try"), is timed ("... before bed", "twice a day"), or a dose is given
  ("400 mg", "two tablets", "4,000 units") other than one the person is reported to have
  taken ("you logged two doses").

Clauses end at sentence punctuation, commas, colons, semicolons, brackets, dashes and line
breaks, so one bad clause in a long paragraph is found and a condition in one clause never
completes a frame in the next. Around a match, the words that make it ordinary language are
let through: a condition followed by a word of the log ("migraine days", "asthma entries"),
by a verb that starts a new clause ("looks like migraine is easing"), or counted ("more
migraine"); a claim about someone else ("your friend was diagnosed with diabetes") or inside
the person's own question ("you asked whether the rash could be eczema"); a medicine after a
doctor or pharmacist in the same clause ("ask your pharmacist whether an antihistamine could
help"); a timed medicine the person is reported to have taken ("you took ibuprofen before
bed"); a negated suggestion of "any" medicine ("this report doesn't recommend any
medicines"), which the default then weighs as a whole.

Further frames read a condition caught, fought off or lived with, an injury said to have been
done, a possibility raised ("raises the question of", "could turn out to be"), a bodily state
in lay words ("your thyroid is running slow", "is your blood sugar crashing"), an organ blamed
("the problem is most likely your gallbladder"), a condition's control judged ("your asthma
isn't under control") and a clinician asked for an unnamed drug ("see if your doctor will
prescribe something"). A referral stops being one when it asks the clinician for a drug or a
change ("ask your GP for a course of antibiotics", "ask whether you should be on a blood
thinner") or offers one the person is not said to take ("whether an antidepressant would
help"). A figure of speech ("nearly gave you a heart attack") and a denied "any" phrase
("nothing points to anything serious") complete no frame.

A text no frame refuses goes to the default of :mod:`worker.safety.ownership`: a condition or
a medicine named anywhere is a claim unless the words around it make it the person's own
label, someone else's, a report of the person's own use or a referral.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from worker.safety.finding import Finding, Kind
from worker.safety.ownership import by_default, not_the_persons
from worker.safety.reading import (
    CLAUSE_STARTS,
    CLINICIAN,
    DENIALS,
    LOG_WORDS,
    NEGATORS,
    NOT_A_DIAGNOSIS_SUBJECT,
    QUANTITIES,
    REPORTED,
    REPORTED_USE,
    REPORTING_TAIL,
    Text,
    Token,
    denied_any,
    figurative,
    find_medicine,
    hits,
    offered,
    reports_use,
    toward_the_drug,
    word_set,
)
from worker.safety.vocabulary import (
    ADJECTIVE,
    CONDITION,
    ENDINGS,
    MEDICINE,
    NUTRIENT,
    SERIOUS,
    Vocabulary,
    ending_flags,
    load_vocabulary,
)

__all__ = ["Finding", "Kind", "check_text"]

# Words after a condition that make it the subject of a new clause ("looks like migraine
# is easing"), not the complement of the frame.
_CLAUSE_VERBS = word_set(
    "is was are were has had have may might could will would can should seems seemed tends "
    "tended keeps kept did does came comes come eased eases ease dropped drops rose rises "
    "stayed stays showed shows appeared appears went goes returned returns return settled "
    "settles fell falls picked picks flared flares improved improves increased decreased "
    "spiked faded fades lessened lessens started starts continued continues hit hits "
    "isn't wasn't didn't doesn't hasn't"
)
_PREPOSITIONS = word_set("for with without about from around during on in")
_TIMES = word_set("time times first last")


def _complement(tokens: list[Token]) -> list[Token]:
    for index, token in enumerate(tokens):
        if token.lower in CLAUSE_STARTS:
            return tokens[:index]
    return tokens


def _condition(
    tokens: list[Token],
    vocabulary: Vocabulary,
    *,
    clause: bool = False,
    before: list[Token] | None = None,
) -> int:
    """The flags of the first condition the complement names as such, or 0.

    ``clause`` says the frame may take a clause ("looks like migraine is easing"): a bare
    condition followed by a verb is then that clause's subject, not a claim.
    ``before`` holds the clause's words ahead of the frame: after a denial there, an "any" phrase claims nothing ("nothing in your
    logs points to anything serious").
    """
    tokens = _complement(tokens)
    for start, end, flags in hits(tokens, vocabulary, CONDITION):
        following = tokens[end].lower if end < len(tokens) else ""
        preceding = tokens[start - 1].lower if start else ""
        if following in LOG_WORDS or preceding in QUANTITIES:
            continue
        if preceding == "your":
            continue  # "contributing to your anxiety": the person's own name for what they log
        if preceding in _PREPOSITIONS:
            continue  # "a steadier week for asthma": the condition qualifies another noun
        if following in _CLAUSE_VERBS and (
            preceding in LOG_WORDS or preceding in _TIMES or (clause and start == 0)
        ):
            continue  # "the third week migraine came up", "looks like migraine is easing"
        if figurative(tokens, start):
            continue  # "sounds like it nearly gave you a heart attack"
        if before is not None and denied_any(tokens, start, before):
            continue
        return flags
    return 0


# Words before a medicine that make the instruction about noticing, not taking, it.
_NOTICING = word_set(
    "track note notes noting log logging record recording list diary journal when whenever "
    "how what which whether"
)


_NOT_WITHOUT = re.compile(r"\b(?:do not|don't|dont|never)\b.*\bwithout\b")


def _noticed(tokens: list[Token], medicine: Token) -> bool:
    """Whether the words before ``medicine`` make it something to notice or log, not take."""
    return any(t.lower in _NOTICING for t in tokens if t.start < medicine.start)


def _referred(view: Text, medicine: Token) -> bool:
    """Whether the clause sends the person to a clinician about ``medicine`` (a referral)
    without asking for a drug or a change ("ask your GP for a course of antibiotics") or
    offering one ("ask your GP whether an antidepressant would help")."""
    start, end = view.clause(medicine.start)
    clinician = CLINICIAN.search(view.lower, start, medicine.start)
    if clinician:
        if toward_the_drug(view.lower, clinician.end(), medicine.start):
            return False
        lead = [t.lower for t in view.tokens(clinician.end(), medicine.start)]
        return not offered(view, medicine.start, lead, asked=True)
    clause = view.lower[start:end]
    return bool(_NOT_WITHOUT.search(clause) and CLINICIAN.search(clause))


def _reported(view: Text, medicine: Token) -> bool:
    """Whether the clause reports that the person took ``medicine`` ("you took ... before bed",
    "on the days you remembered your vitamin d")."""
    start, _ = view.clause(medicine.start)
    return reports_use([t.lower for t in view.tokens(start, medicine.start)])


# -- the frames --------------------------------------------------------------------------------
#
# A frame is a fixed phrase that opens with a literal word. Texts are matched only against
# the frames whose first word they contain, and each pattern starts with that word, so the
# regular expression engine finds candidates with a plain substring search.

_HEDGE = (
    r"(?:probably|likely|possibly|perhaps|maybe|clearly|definitely|certainly|almost certainly|"
    r"most likely|very likely|quite likely|already|now|also|still|actually|really|just|well|"
    r"even|potentially|simply|in all probability|in all likelihood|without doubt|no doubt|by now)"
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
    "hold",
    "ask for",
    "rub",
    "massage",
    "dab",
    "smear",
    "spray",
    "gargle with",
    "sip",
    "put some",
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

_PARTICIPLES = word_set(
    "had been done kept made seen felt slept taken shown gone come given written spent begun "
    "grown become eaten drunk put set run met got tried"
)
_ONLY_IF_SERIOUS = frozenset(
    {
        "turn into",
        "develop into",
        "progress to",
        "progress into",
        "lead to",
        "escalate into",
        "become",
        "end in",
        "end up in",
        "end up with",
        "result in",
        "bring on",
        "trigger",
        "cause",
    }
)
_HEDGES = word_set("could might may can sometimes occasionally possibly potentially rarely")
_IMPERATIVE_CONTEXT = re.compile(
    r"(?:^|\b(?:and|then|or|so|but|why not|why don't you|why not just|how about you|you should|"
    r"you could|you might|maybe you could|perhaps you could)\s)\s*(?:[-*\u2022]\s*)?"
    r"(?:(?:please|just|maybe|perhaps|simply|also|now|gently|always|never|instead|first|do not|"
    r"don't|dont|try to|remember to|be sure to|make sure to|make sure you|don't forget to|do)\s+)*$"
)
_DOSE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s?(?:mg|mcg|\u00b5g|ug|milligrams?|micrograms?|iu|international units)\b"
    r"|\b\d+(?:,\d{3})*\s(?:units?)\b(?! of (?:alcohol|wine|beer|drink))"
    r"|\b(?:\d+|one|two|three|four|five|six|half an?|a half|an extra|a double|a single)\s"
    r"(?:tablets?|pills?|capsules?|puffs?|drops?|sachets?|lozenges?|doses?|teaspoons?|spoonfuls?)\b"
)
_DOSE_UNITS = word_set(
    "mg mcg \u00b5g ug milligram milligrams microgram micrograms iu units tablet tablets pill pills capsule "
    "capsules puff puffs drop drops sachet sachets lozenge lozenges dose doses teaspoon teaspoons "
    "spoonful spoonfuls"
)


# -- what each frame checks ----------------------------------------------------------------------

_DIAGNOSIS_WINDOW = 8
_MEDICINE_WINDOW = 10


def _have(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    tokens = view.after(match, _DIAGNOSIS_WINDOW)
    if tokens and tokens[0].lower == "had" and _evidenced(view, match):
        tokens = tokens[1:]  # "you've had walking pneumonia, by the sound of that cough": a claim
    elif tokens and (tokens[0].lower in _PARTICIPLES or tokens[0].lower.endswith("ed")):
        return None  # "you have had", "you have logged": a report, not a claim
    if _condition(tokens, vocabulary):
        return Finding("diagnosis", "asserted_condition")
    return None


# Words that give the report's grounds for a claim: "by the sound of that cough", "judging by".
_EVIDENCE = re.compile(
    r"\b(?:by|from) the (?:sound|sounds|look|looks) of\b|\bjudging (?:by|from)\b|\bgoing by\b|"
    r"\b(?:probably|likely|clearly|obviously|must|surely|definitely|almost certainly|i think|i suspect)\b"
)


def _evidenced(view: Text, match: re.Match[str]) -> bool:
    """Whether the sentence gives grounds or a hedge for what follows ``match``."""
    start, end = view.sentence(match.start())
    return _EVIDENCE.search(view.lower, start, end) is not None


def _asserted(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    if _condition(view.after(match, _DIAGNOSIS_WINDOW), vocabulary):
        return Finding("diagnosis", "asserted_condition")
    return None


def _described(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    tokens = view.after(match, 5)
    words = [t.lower for t in tokens]
    if len(words) >= 3 and words[0] in {"low", "deficient", "short", "lacking"} and words[1] in {"in", "on"}:
        if hits(tokens[2:5], vocabulary, NUTRIENT | MEDICINE):
            return Finding("diagnosis", "deficiency_claim")
        return None
    if any(start <= 1 for start, _, _ in hits(tokens[:3], vocabulary, ADJECTIVE)):
        return Finding("diagnosis", "condition_adjective")
    return None


def _suggestion(view: Text, match: re.Match[str], flags: int, rule: str) -> Finding | None:
    """A suggested condition; a serious one hedged in its clause ("can be a sign of") alarms."""
    if not flags:
        return None
    if flags & SERIOUS and any(t.lower in _HEDGES for t in view.before(match, _DIAGNOSIS_WINDOW)):
        return Finding("alarm", "serious_speculation")
    return Finding("diagnosis", rule)


def _suggested(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    flags = _condition(
        view.after(match, _DIAGNOSIS_WINDOW), vocabulary, clause=True, before=view.before(match, 12)
    )
    return _suggestion(view, match, flags, "suggested_condition")


def _sign_of(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    before = view.before(match, 3)
    if any(t.lower in REPORTED for t in before):
        return None  # "you logged signs of asthma": what the person recorded
    if any(t.lower in DENIALS for t in before[-2:]):
        return None  # "there's no sign of last month's sore throat in this week's entries"
    flags = _condition(view.after(match, _DIAGNOSIS_WINDOW), vocabulary, before=view.before(match, 12))
    return _suggestion(view, match, flags, "suggested_condition")


def _attributed(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    flags = _condition(view.after(match, _DIAGNOSIS_WINDOW), vocabulary)
    return _suggestion(view, match, flags, "attributed_condition")


def _speculated(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    flags = _condition(
        view.after(match, _DIAGNOSIS_WINDOW),
        vocabulary,
        clause=True,
        before=view.before(match, 12),
    )
    if flags & SERIOUS:
        return Finding("alarm", "serious_speculation")
    if flags and match.group("verb") not in _ONLY_IF_SERIOUS:
        return Finding("diagnosis", "suggested_condition")
    return None


def _yours(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """``your <something> is <condition>``, unless the something is a log ("your most logged
    symptom is migraine")."""
    subject = set(match.group().split()[1:-1])
    if subject & (LOG_WORDS | NOT_A_DIAGNOSIS_SUBJECT):
        return None
    return _asserted(view, match, vocabulary)


def _found_helpful(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """``find <medicine> helpful``: a recommendation, unless it reports what the person found."""
    tokens = view.before(match, 6)
    if not any(t.lower in {"find", "finds"} for t in tokens):
        return None
    medicine = find_medicine(tokens, vocabulary)
    if medicine is None or _referred(view, medicine) or _reported(view, medicine):
        return None
    return Finding("medication", "medication_suggestion")


def _body_state(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    return Finding("diagnosis", "body_state_claim")


def _raised(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    flags = _condition(view.after(match, _DIAGNOSIS_WINDOW), vocabulary, before=view.before(match, 12))
    if not flags:
        return None
    return Finding(
        "alarm" if flags & SERIOUS else "diagnosis",
        "serious_speculation" if flags & SERIOUS else "suggested_condition",
    )


def _body_says(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    if _condition(view.after(match, _DIAGNOSIS_WINDOW), vocabulary):
        return Finding("diagnosis", "suggested_condition")
    return None


_EXPLAINED_AS = word_set("is are it's that's what's this's probably likely just simply clearly")


def _body_explains(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """A symptom explained as a bodily state: "that slump is your blood sugar crashing"."""
    before = view.before(match, 1)
    if before and before[0].lower in _EXPLAINED_AS:
        return Finding("diagnosis", "body_state_claim")
    return None


_BODY_PARTS = word_set(
    "muscle muscles nerve nerves tendon tendons ligament ligaments disc disk meniscus cartilage rib ribs "
    "back neck shoulder shoulders knee knees ankle ankles wrist wrists elbow elbows hip hips hamstring "
    "hamstrings calf calves groin achilles cuff toe toes finger fingers thumb heel jaw joint joints "
    "spine quad quads glute glutes coccyx tailbone collarbone kneecap foot feet hand arm leg"
)
# Verbs that name an injury only with a word of likelihood: "you probably twisted your ankle";
# "you twisted your ankle on Tuesday, you wrote" is a report.
_LOOSE_INJURIES = word_set(
    "twisted injured damaged bruised jarred tweaked wrenched pulled broke broken cracked"
)


def _injured(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """An injury to a part of the body said of the person, unless the text reports it."""
    if _BODY_PARTS.isdisjoint(match.group("part").split()):
        return None
    words = match.group().split()
    hedged = any(word in _HEDGES or word in _HEDGE_WORDS for word in words)
    if match.group("injury") in _LOOSE_INJURIES and not hedged:
        return None
    _, end = view.sentence(match.start())
    if REPORTING_TAIL.search(view.lower, match.end(), end):
        return None  # "you strained your calf on the hill, you wrote"
    return Finding("diagnosis", "asserted_condition")


_HEDGE_WORDS = word_set("probably likely possibly perhaps maybe clearly definitely certainly most very quite")


_PERSON_STATES = word_set("being you're you yourself")


def _low_on(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """The person said to be low on a nutrient, not a food or a meal said to be low in one."""
    before = [t.lower for t in view.before(match, 6)]
    if "your" in before or _PERSON_STATES.isdisjoint(before):
        return None
    if hits(view.after(match, 3), vocabulary, NUTRIENT):
        return Finding("diagnosis", "deficiency_claim")
    return None


def _control_judged(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """A judgement that the person's condition is not under control: clinical, not a log."""
    if hits(view.tokens(match.start(), match.end()), vocabulary, CONDITION):
        return Finding("diagnosis", "asserted_condition")
    return None


def _wrong_organ(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """Something said to be wrong with an organ, unless denied ("nothing suggests anything is
    wrong with your heart")."""
    if any(t.lower in DENIALS for t in view.before(match, 6)):
        return None
    return Finding("alarm", "serious_speculation")


def _organ_blamed(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """An organ or a bodily measure named as the cause, unless it is a log of it ("it's your
    blood pressure readings that ...")."""
    after = view.after(match, 2)
    if after and (after[0].lower in LOG_WORDS or after[0].lower in _MEASURES):
        return None
    return Finding("diagnosis", "body_state_claim")


_MEASURES = word_set("readings reading levels level data numbers figures results test tests monitor")


def _requested(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    """A clinician asked for an unnamed medicine: a request for a drug, unless negated."""
    start, end = view.sentence(match.start())
    if not CLINICIAN.search(view.lower, start, end):
        return None
    if any(t.lower in DENIALS for t in view.before(match, 4)):
        return None
    return Finding("medication", "medication_suggestion")


def _organ_at_risk(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    return Finding("alarm", "serious_speculation")


def _instructed(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    tokens = view.after(match, _MEDICINE_WINDOW)
    if tokens and tokens[0].lower in {"of", "in"}:
        return None  # "use of your inhaler dropped", "a change in": nouns, not instructions
    medicine = find_medicine(tokens, vocabulary)
    if medicine is None or _referred(view, medicine) or _noticed(tokens, medicine):
        return None
    if _any_negated(view, match, tokens, medicine):
        return None  # "don't change any medicine ...": the default weighs the whole sentence
    return Finding("medication", "medication_instruction")


def _imperative(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    start, _ = view.clause(match.start())
    if not _IMPERATIVE_CONTEXT.search(view.lower[start : match.start()]):
        return None  # the verb does not open its clause: "on days you take ..."
    return _instructed(view, match, vocabulary)


def _proposed(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    tokens = view.after(match, _MEDICINE_WINDOW)
    medicine = find_medicine(tokens, vocabulary)
    if medicine is None or _referred(view, medicine) or _noticed(tokens, medicine):
        return None
    if _reported(view, medicine):
        return None  # "you finished the course of antibiotics on Monday"
    if _any_negated(view, match, tokens, medicine):
        return None  # "this report doesn't recommend any medicines"
    return Finding("medication", "medication_suggestion")


def _any_negated(view: Text, match: re.Match[str], tokens: list[Token], medicine: Token) -> bool:
    """Whether the frame is negated and its medicine is "any": not advice about one drug."""
    if not any(t.lower in NEGATORS for t in view.before(match, 3)):
        return False
    if any(t.lower in {"any", "anything"} for t in tokens if t.start < medicine.start):
        return True
    # "please don't change your doses on the strength of this report": deferring, not advising
    start, end = view.sentence(match.start())
    return _THIS_REPORT.search(view.lower, start, end) is not None


_THIS_REPORT = re.compile(r"\b(?:this|these|the) (?:report|summary|findings|insights?|analysis|patterns?)\b")


def _promised(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    tokens = view.before(match, _MEDICINE_WINDOW)
    medicine = find_medicine(tokens, vocabulary)
    if medicine is None or _referred(view, medicine) or _reported(view, medicine):
        return None
    if _noticed(tokens, medicine):
        return None  # "noting when you take painkillers could help": a logging step
    return Finding("medication", "medication_suggestion")


def _timed(view: Text, match: re.Match[str], vocabulary: Vocabulary) -> Finding | None:
    medicine = find_medicine(view.before(match, 4), vocabulary)
    if medicine is None or _referred(view, medicine) or _reported(view, medicine):
        return None
    _, end = view.sentence(medicine.start)
    if REPORTING_TAIL.search(view.lower, medicine.start, end):
        return None  # "your inhaler was used every morning, your log shows"
    return Finding("medication", "medication_timing")


_Check = Callable[[Text, re.Match[str], Vocabulary], Finding | None]


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
# Parts and measures of the body whose state a claim asserts ("your iron is low", "your
# thyroid is running slow", "your ticker's a bit dodgy").
_BODY_PART = (
    r"(?:blood sugar|blood glucose|glucose|sugar|sugars|blood pressure|bp|iron|ferritin|thyroid|hormones?|"
    r"cholesterol|vitamin [a-z0-9]+|b12|heart rate|heart rhythm|heart|ticker|oxygen|electrolytes|"
    r"immune system|cortisol|blood count|kidneys?|liver|adrenals?|adrenal glands?|pancreas|metabolism|"
    r"gut flora|gut bacteria|microbiome|testosterone|oestrogen|estrogen|serotonin|dopamine|insulin|"
    r"blood|lungs?|arteries|circulation|nervous system|neurotransmitters|brain chemistry|gallbladder|"
    r"appendix|prostate|ovaries|womb|uterus|bladder|bowels?|spleen|gall bladder)"
)
_STATE_DEGREE = r"(?:too|quite|very|a bit|a little|slightly|dangerously|rather|pretty|seriously|a touch)"
_BODY_STATE = (
    r"(?:low|high|off|elevated|raised|underactive|overactive|out of balance|imbalanced|abnormal|"
    r"irregular|unstable|deficient|struggling|compromised|weak|weakened|failing|dodgy|faulty|sluggish|"
    r"out of whack|out of kilter|depleted|running (?:slow|low|high|fast)|playing up|not (?:working|"
    r"functioning) properly|under strain|overworked|worn out|inflamed|damaged|clogged|blocked|"
    r"crashing|spiking|dysregulated|on the blink|not right|too fast|too slow|haywire|shot|poor|bad|"
    r"all over the place|on the (?:high|low) side|creeping up|through the roof|sky-high|in overdrive|"
    r"acting up|misbehaving|overdoing it|working overtime|underperforming|not coping|"
    r"burnt out|burned out|slow|slowing down)"
)
_BODY_CHANGE = (
    r"(?:crashing|crash|crashes|spiking|spike|spikes|dropping|dipping|plummeting|tanking|surging|"
    r"falling|misfiring|struggling|failing|playing up|running (?:slow|low|high|fast)|"
    r"out of balance|out of whack|acting up|misbehaving|overdoing it|working overtime|in overdrive|"
    r"running on empty|worn out|burnt out|burned out|exhausted|depleted|giving up|packing up|"
    r"going haywire|underperforming|not coping|complaining|protesting|flaring)"
)
_ORGAN = (
    r"(?:heart|lungs?|liver|kidneys?|brain|spine|spinal cord|appendix|bowel|pancreas|gallbladder|"
    r"arteries|blood vessels|nerves|thyroid)"
)
_YOU_ARE = r"(?:'re| are)"
_SIGNS_OF = r"(?:early |the first |some )?signs of"

# In order of precedence: speculation before the other diagnosis frames, so "may indicate a
# tumour" is an alarm rather than a suggested diagnosis.
_FRAMES = (
    # alarm or diagnosis: speculation
    _frames(
        _MODALS,
        rf"(?: not)?(?: (?:this|that|it|these|those))?(?: {_HEDGE})* (?P<verb>have been|be|mean|signal|indicate|"
        r"suggest|point to|hint at|turn into|"
        r"develop into|progress to|progress into|lead to|escalate into|become|end up as|turn out to be|"
        r"prove to be|be down to|be caused by|be due to|be a sign of|be an early sign of|end in|end up in|"
        r"end up with|result in|bring on|trigger|cause)\b",
        _speculated,
        CONDITION,
    ),
    # alarm: an organ raised as the cause, or as failing ("could be your heart", "your
    # appendix could burst")
    _frames(
        _MODALS,
        rf"(?: not)?(?: {_HEDGE})* (?:be|mean|indicate|signal|suggest|have been)(?: that)? your {_ORGAN}\b",
        _organ_at_risk,
        0,
    ),
    _frames(
        "your",
        rf" {_ORGAN} (?:could|might|may|can|will|is|are)(?: {_HEDGE})*(?: be| have| start to| be starting to|"
        r" starting to| have been)? (?:burst|bursting|rupture|rupturing|fail|failing|damaged|give out|giving out|"
        r"shut down|shutting down|blocked|compressed|being compressed|packing up|in trouble|struggling)\b",
        _organ_at_risk,
        0,
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
        "you",
        rf"(?: {_HEDGE})*(?: {_MODAL}(?: {_HEDGE})* have)? (?:caught|picked up|contracted|come down with|came down with)\b"
        rf"|(?:'re| are)(?: {_HEDGE})* (?:coming down with|fighting off|fighting|getting over|recovering from|"
        r"run down with|laid up with|struck down with|knocked out by|floored by)\b"
        rf"|(?: {_HEDGE})* {_MODAL}(?: {_HEDGE})* be (?:coming down with|fighting off|fighting)\b",
        _asserted,
        CONDITION,
    ),
    # diagnosis: an injury said to have been done ("you likely strained your rotator cuff")
    _frames(
        "you you've you'd",
        rf"(?: {_HEDGE})*(?: {_MODAL}(?: {_HEDGE})* have)? (?P<injury>strained|sprained|tore|torn|pulled|"
        r"pinched|trapped|slipped|herniated|fractured|broke|broken|cracked|dislocated|ruptured|twisted|"
        r"injured|damaged|bruised|jarred|tweaked|wrenched)"
        r" (?:your|a|an|the) (?P<part>[a-z'-]+(?: [a-z'-]+)?)\b",
        _injured,
        0,
    ),
    # diagnosis: the person said to be low on a nutrient ("every sign of being low on electrolytes")
    _frames("low short deficient lacking", r" (?:on|in)\b", _low_on, NUTRIENT | MEDICINE),
    # diagnosis: a condition the person is said to have been living with
    _frames(
        "you've",
        rf"(?: {_HEDGE})* been(?: {_HEDGE})* (?:living with|dealing with|struggling with|battling|suffering from|"
        r"running on|coping with|carrying|fighting|ignoring|putting up with)\b",
        _asserted,
        CONDITION,
    ),
    _frames(
        "you",
        rf"(?: {_HEDGE})* (?:have|might have|may have|could have|must have)(?: {_HEDGE})* been(?: {_HEDGE})* "
        r"(?:living with|dealing with|struggling with|battling|suffering from|running on|coping with|"
        r"carrying|fighting|ignoring|putting up with)\b",
        _asserted,
        CONDITION,
    ),
    # diagnosis: the control of the person's condition judged ("your asthma isn't under control")
    _frames(
        "your",
        r"(?: [a-z'-]+){1,3} (?:isn't|is not|aren't|are not|wasn't|weren't)(?: well| properly| fully| really)?"
        r" (?:under control|controlled|managed)\b|(?: [a-z'-]+){1,3} (?:is|are|was|were)(?: probably| clearly)?"
        r" (?:poorly controlled|uncontrolled|badly controlled|not controlled|progressing|out of control)\b"
        r"|(?: [a-z'-]+){1,3} (?:has become|is becoming|has turned|is turning|has gone|is going|is now|has got)"
        r"(?: \w+)? (?:chronic|severe|persistent|resistant|serious|systemic)\b",
        _control_judged,
        CONDITION,
    ),
    _frames(
        "you've",
        rf"(?: {_HEDGE})* (?:caught|picked up|contracted|come down with)\b",
        _asserted,
        CONDITION,
    ),
    _frames(
        "you're",
        rf"(?: {_HEDGE})* (?:coming down with|fighting off|getting over|recovering from|run down with|"
        r"laid up with|struck down with|knocked out by|floored by)\b",
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
    _frames("this that it these those which they", rf"(?: is| are)(?: {_HEDGE})*\b", _asserted, CONDITION),
    _frames("it's that's they're", rf"(?: {_HEDGE})*\b", _asserted, CONDITION),
    _frames("this that it these those which they", rf" (?:was|were)(?: {_HEDGE})+\b", _asserted, CONDITION),
    _frames(
        "is are was were",
        r"(?: (?:probably|likely|possibly|almost certainly|most likely|clearly|definitely|certainly|"
        r"perhaps|maybe))+\b",
        _asserted,
        CONDITION,
    ),
    # alarm or diagnosis: a condition raised as a possibility ("raise the question of",
    # "the possibility of", "the spectre of")
    _frames(
        "question possibility possibilities spectre specter prospect suspicion", r" of\b", _raised, CONDITION
    ),
    # diagnosis: what the person's body is said to be telling them ("your body is telling you
    # that your thyroid is running slow"), read past the "that"
    _frames(
        "your",
        r" (?:body|system|gut|brain|nervous system)(?:'s| is)? (?:telling|trying to tell|warning|signalling|"
        r"signaling|showing|crying out|asking)(?: you)?(?: that| about| for)?\b",
        _body_says,
        CONDITION,
    ),
    # diagnosis: something about the person points to it
    _frames("point points pointed pointing", r" (?:to|towards?|at)\b", _suggested, CONDITION),
    _frames(
        "suggest suggests suggested suggesting indicate indicates indicated indicating signal signals "
        "signalled signaled signalling signaling imply implies implied implying mean means resemble "
        "resembles resembled resembling matches matched mirrors mirrored",
        r"\b",
        _suggested,
        CONDITION,
    ),
    _frames("hint hints hinted hinting", r" at\b", _suggested, CONDITION),
    _frames(
        "have has had having",
        r"(?: all)?(?: the| a)? (?:look|looks|feel|hallmarks|makings|marks|features|characteristics|"
        r"signature|appearance|ring) of\b",
        _suggested,
        CONDITION,
    ),
    _frames(
        "look looks looked looking sound sounds sounded sounding seem seems seemed seeming feel feels",
        r" like\b",
        _suggested,
        CONDITION,
    ),
    _frames(
        "look looks looked seem seems seemed appear appears appeared", r" to be\b", _suggested, CONDITION
    ),
    _frames(
        "suggestive indicative typical characteristic classic symptomatic diagnostic hallmark hallmarks "
        "onset",
        r" of\b",
        _suggested,
        CONDITION,
    ),
    _frames("textbook", r"(?: case)? of\b", _suggested, CONDITION),
    _frames("textbook classic typical characteristic", r" for\b", _suggested, CONDITION),
    # alarm: something said to be wrong with an organ ("may mean something is seriously wrong
    # with your liver")
    _frames(
        "something",
        rf"(?: is| 's)?(?: {_HEDGE})*(?: seriously| badly| very| really)? wrong with your {_ORGAN}\b",
        _wrong_organ,
        0,
    ),
    # alarm or diagnosis: concerns raised about a condition ("raise concerns about a blood cancer")
    _frames(
        "raise raises raising raised",
        r" (?:concerns?|worries|fears|questions?|suspicions?|the (?:question|possibility|spectre|specter|prospect))"
        r" (?:about|of|over|around)\b",
        _raised,
        CONDITION,
    ),
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
    _frames(
        "warning precursor precursors forerunner prelude harbinger run-up",
        r"(?: shot| shots| sign| signs| light)? (?:of|before|to|for)\b",
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
        rf" {_BODY_PART}(?: levels?)?(?:'s|'re| (?:is|are|was|were|may be|might be|could be|must be|seems?|"
        r"looks?|appears?|sounds?|is probably|are probably|is likely|are likely|is clearly|are clearly|"
        r"has been|have been|is still|are still))"
        rf"(?: to be)?(?: {_HEDGE})*(?: {_STATE_DEGREE})* {_BODY_STATE}\b"
        rf"|(?: {_BODY_PART})(?: levels?)? (?:isn't|aren't|is not|are not|wasn't|weren't)(?: {_HEDGE})* "
        r"(?:great|good|brilliant|ideal|right|working properly|what it should be|up to scratch|up to much|"
        r"coping|keeping up|[a-z]+ing (?:properly|well|enough|as (?:it|they) should|normally|right))\b"
        rf"|(?: {_BODY_PART})(?: levels?)? (?:is|are|was|were|keeps|kept)(?: {_HEDGE})* (?:dropping|falling|"
        r"running|going|getting|climbing|rising|creeping|dipping|spiking) (?:too |very |dangerously |a bit |"
        r"far too |much too )?(?:low|high)\b",
        _body_state,
        0,
    ),
    # diagnosis: an organ named as the cause ("the problem is most likely your thyroid",
    # "it's your gallbladder")
    _frames(
        "problem problems culprit cause issue source trouble reason explanation it's that's",
        rf"(?: (?:is|are|could be|might be|may be|must be|'s))?(?: {_HEDGE})* your {_BODY_PART}\b",
        _organ_blamed,
        0,
    ),
    # diagnosis: a symptom explained as a bodily state ("that slump is your blood sugar crashing")
    _frames("your", rf" {_BODY_PART}(?: levels?)? {_BODY_CHANGE}\b", _body_explains, 0),
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
    # medication: a clinician asked to prescribe something unnamed ("ask the GP to put you on
    # something for the low mood", "see if your doctor will prescribe something")
    _frames(
        "prescribe prescribes prescribing",
        r" (?:you )?(?:something|anything|a course of something|some(?:thing)? stronger)\b",
        _requested,
        0,
    ),
    _frames("put start get", r" you (?:on|onto) (?:something|anything)\b", _requested, 0),
    _frames(
        "something anything",
        r"(?: stronger| else)? (?:for (?:the|your|my)|to help (?:with|you)|to take the edge off|to calm|to settle|"
        r"to ease|to get you through)\b",
        _requested,
        0,
    ),
    _frames(
        "give",
        r" you (?:something|anything)(?: (?:stronger|else|different|more))? (?:for|to)\b"
        r"| you (?:something|anything) stronger\b",
        _requested,
        0,
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
        r"be sensible|be wise|be a good idea|be smart|make sense|be a good call|be worthwhile|"
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


def load_guard() -> None:
    """Build what the first :func:`check_text` would: the vocabulary (seconds) and the
    frames' patterns (about 0.3 s). A worker calls it once, off its event loop, so no
    job's check stalls the loop for them."""
    load_vocabulary()
    _entries_by_first_word()


def _opens_word(text: str, position: int) -> bool:
    return position == 0 or not (text[position - 1].isalnum() or text[position - 1] in "'-")


def _named(words: set[str], vocabulary: Vocabulary) -> int:
    """The kinds of word (condition, medicine, ...) the text may name, from its key words."""
    found = 0
    for word in words.intersection(vocabulary.key_words):
        found |= vocabulary.keys[word]
    return found


def _dose_reported(view: Text, dose: re.Match[str]) -> bool:
    """Whether the clause reports a dose the person took ("you logged two doses")."""
    start, _ = view.clause(dose.start())
    return any(t.lower in REPORTED or t.lower in REPORTED_USE for t in view.tokens(start, dose.start()))


def check_text(text: str) -> Finding | None:
    """The first medical claim in ``text`` (English), or ``None`` when it makes none.

    The finding names the kind and the rule, never the words. The first call in a process
    loads the vocabulary (seconds; see :func:`worker.safety.load_vocabulary`).
    """
    if not text or text.isspace():
        return None
    vocabulary = load_vocabulary()
    view = Text(text)
    lower = view.lower
    words = set(view.words())
    if (not words.isdisjoint(_DOSE_UNITS) or "mg" in lower or "mcg" in lower or "iu" in lower) and any(
        not _dose_reported(view, dose) for dose in _DOSE.finditer(lower)
    ):
        return Finding("medication", "dose_amount")
    named = _named(words, vocabulary) | _by_ending(words, vocabulary)
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
            if finding is not None and not (finding.kind != "medication" and not_the_persons(view, match)):
                return finding
    wanted = named & (CONDITION | ADJECTIVE | MEDICINE)
    return by_default(view, vocabulary, wanted) if wanted else None


# Words already read that name nothing by their ending: what a word's ending says depends on
# the word and the (fixed) vocabulary alone, and answers reuse most of their words, so a set
# difference in C leaves only new words to the loop below. Bounded; a word that names
# something is never kept here.
_PLAIN_WORDS: set[str] = set()
_PLAIN_WORDS_LIMIT = 200_000


def _by_ending(words: set[str], vocabulary: Vocabulary) -> int:
    """The kinds of word the text names only by their ending ("costochondritis", "ramipril"),
    or as the start of a longer name ("polymyalgia")."""
    found = 0
    for word in words.difference(_PLAIN_WORDS):
        flags = (
            ending_flags(word)
            if len(word) >= 7 and word.endswith(ENDINGS) and not vocabulary.words.get(word)
            else 0
        )
        if flags:
            found |= flags
        elif len(_PLAIN_WORDS) < _PLAIN_WORDS_LIMIT:
            _PLAIN_WORDS.add(word)
    return found


def _by_order(entry: _Entry) -> int:
    return entry.order
