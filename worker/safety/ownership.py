"""The default: a condition or a medicine named in a text, and whose it is.

The frames of :mod:`worker.safety.guard` find a claim by its wording; the default finds it by
what is left once the ordinary uses of a name are set aside, so that a claim worded in a way
no frame foresaw ("... is tennis elbow", "... add up to fibromyalgia", "codeine would handle
the pain") is still found.

- A condition named in a text is a claim about the person unless the words around it make it
  the person's own label or word, or someone else's: a log word after it ("your asthma
  entries", "migraine days"), "your" or another's possessive before it ("your sister's
  asthma"), a count ("more migraine", "two migraines"), quotation marks ("you recorded
  'vertigo'"), a verb of reporting that governs it ("you logged a panic attack", "the slipped
  disc you mention in your profile"), a topic ("a documentary about heart disease"), or its
  place as the subject of a clause that goes on to do something other than explain ("migraine
  came up twice", but not "lupus would explain the pain"). A word that claims a condition
  ("sprained") counts when it is said of something ("your ankle is sprained").
- A medicine named in a text is advice unless its clause reports the person's own use or a
  record of it ("you noted taking ibuprofen", "noting when you take painkillers"), the
  sentence hands the matter to a doctor or pharmacist without steering to a drug or a change
  ("a pharmacist can tell you whether your medicines interact", but not "ask your doctor
  about increasing your antidepressant"), or it says only what is not advised ("this report
  doesn't recommend any medicines").

The default runs after the frames, on texts whose words include a vocabulary key, and reads
each text's words once.
"""

from __future__ import annotations

import re

from worker.safety.finding import Finding
from worker.safety.reading import (
    CLAUSE_STARTS,
    CLINICIAN,
    LOG_WORDS,
    NEGATORS,
    NOT_A_DIAGNOSIS_SUBJECT,
    QUANTITIES,
    REPORTED_USE,
    REPORTING_TAIL,
    Text,
    Token,
    denied_any,
    figurative,
    offered,
    reports_use,
    scan,
    taken,
    toward_the_drug,
    word_set,
)
from worker.safety.vocabulary import ADJECTIVE, CONDITION, FRAMED, MEDICINE, SERIOUS, Vocabulary

# -- a condition, and whose it is ---------------------------------------------------------------

_DETERMINERS = word_set("the a an this that these those some each every all both his her their its our my")
# Words before a subject: the start of a clause ("when migraine starts", "and anxiety eased").
_SUBJECT_LEADS = word_set(
    "when whenever if while because since so but where after before until once though although "
    "whereas unless whether and then or also yet"
)
# Words that end the walk back from a condition to the start of its noun phrase: a verb,
# preposition, hedge or pronoun there makes the condition a complement, not a subject.
_NOT_IN_A_SUBJECT = word_set(
    "is are was were be been being am 's could might may can would will should must mean means "
    "meant suggest suggests indicate indicates point points look looks sound sounds seem seems fit "
    "fits add adds amount amounts explain explains like as of with to from into for by at in on "
    "about just probably likely possibly perhaps maybe clearly definitely certainly really actually "
    "you you've you're your it it's this that's they we i have has had not nothing no than "
    "called read signs"
)
# Words after a subject that make it a cause: "lupus would explain", "anxiety is behind this".
_EXPLAINING = word_set(
    "explain explains explained explaining cause causes causing culprit explanation reason behind "
    "blame responsible root underlying underlies driving drives account accounts going source "
    "driver play involved present developing emerging setting guess bet suspect verdict "
    "diagnosis possibility possibilities fear fears worry worrying concern concerning suspicion "
    "suspected candidate contender likeliest prime why table cards ruled contention frame"
)
_COPULAS = word_set("is are was were 's")
# Words after "is likely" that make it a prediction ("migraine is likely on Tuesday").
_PREDICTING = word_set(
    "to on if when next this again after before around tomorrow tonight during later by at over once "
    "until through whenever following"
)
_PRESENT_OR_MODAL = word_set("is are 's could might may must would will can")
_PROBLEMS = word_set("problem issue trouble answer")
_LIKENING = word_set("like resembles resemble matches match")
_FITTING = word_set("fits fit matches match")
_FITTING_AROUND = word_set("around into in with between")
_THIS_PERSON = word_set("this that these those yours you what")
# Nouns a condition qualifies when it is a label, a cause or an organisation, not a claim.
_ATTRIBUTIVE = LOG_WORDS | word_set(
    "charity charities fundraiser research awareness clinic nurse team specialist appointment "
    "appointments review machine monitor medication medications medicine medicines meds tablets "
    "pills inhaler group forum course leaflet diagnosis documentary article podcast book"
)
# Nouns that measure a feeling or count entries: "a wave of anxiety", "days with migraine".
_AMOUNTS = word_set(
    "feelings feeling sense wave waves moments moment bit lot spike spikes surge rush pang "
    "pangs level levels amount hours rise rises drop drops dip dips increase decrease fall peak "
    "peaks change changes"
)
# Words before "with" or "for" that make the condition the target of a step, not a claim:
# "protect your sleep to help with anxiety".
_HELPING = word_set("help helps helping helped helpful useful good")
_NUMBERS = word_set("one two three four five six seven eight nine ten several many few both")
_TOPIC_PREPOSITIONS = word_set("on about regarding before after during until since around between without")
_OF_LOG = word_set("with of for by in")
# Someone other than the person: "your father after his stroke", "your mum, who has dementia".
_OTHERS = word_set(
    "father mother mum mom dad sister brother son daughter partner husband wife aunt uncle "
    "grandmother grandfather grandma grandpa gran granny nan cousin niece nephew friend friends "
    "colleague colleagues boss child children kids kid parents parent family neighbour neighbor"
)
# Someone unnamed in a hypothetical: "what to do if someone has a seizure"; outside one, a
# comparison claims ("typical of people with COPD", "read like someone with an eating disorder").
_ANYONE = word_set("someone somebody anyone anybody")
_IF = word_set("if when whenever whether should")
_SECOND_PERSON = word_set("you your you're you've yours yourself")
_NOT_POSSESSIVES = word_set("it's that's what's there's here's he's she's who's let's one's")
# Verbs and nouns that report what the person (or their log) said, did or asked.
_REPORTING = word_set(
    "logged log logs logging noted note notes noting mentioned mention mentions mentioning wrote "
    "write writes writing written recorded record records reported tagged tag tags labelled "
    "labeled label called call calls described used use asked ask asks question "
    "questions wondered wondering read searched watched joked said say says signed volunteered ran "
    "visited attended tracked tracking track entered marked rated talked researched learned learnt "
    "covers covered show shows showed entry noticed notice notices spotted spot experienced felt"
)
# Words between a report and a condition that turn it back into a claim: "the episodes you
# logged may indicate", "the tightness you noted is".
_REPORT_BREAKS = word_set(
    "is are was were be been 's could might may can would will should must have has had mean "
    "means suggest suggests indicate indicates point points fit fits explain explains come comes "
    "came caused due look looks sound sounds seem seems amount amounts add adds like"
)
# "You had a migraine on Tuesday" reports; "you most likely had a concussion" claims.
_HAD = word_set("had experienced")
# The report speaking for itself: "I'd say anxiety disorder", "we don't recommend any".
_SPEAKERS = word_set("i i'd i'll we we'd we'll")
_QUESTION_WORDS = word_set("whether if what why how")
# A preposition that opens a clause naming its topic: "For anxiety, the calmest days ...".
_HEADING_PREPOSITIONS = word_set("for with about regarding on")
# The last word of a clause that makes a bare condition after it a verdict ("Likely cause:
# low iron"), not a label.
_CLAIMING_CLAUSE_ENDS = word_set(
    "diagnosis verdict cause culprit explanation likely probably possibly maybe perhaps chronic "
    "serious worse specific technical medical proper official clinical name"
)
# The first word of a clause that makes a bare condition before it a verdict ("Vertigo, most
# likely."), not a label.
_CLAIMING_CLAUSE_STARTS = word_set(
    "most probably likely almost certainly definitely clearly surely without judging seemingly "
    "apparently presumably possibly perhaps maybe"
)
# The first words of a clause that make a bare condition before it an apposition that names
# what the text just described: "...; bruxism, in other words".
_NAMING_PHRASES = (
    "in other words",
    "in short",
    "in effect",
    "that is",
    "i.e",
    "for short",
    "as it's called",
    "as it is called",
    "as it's known",
    "as it is known",
    "so to speak",
    "to give it its name",
    "to name it",
    "essentially",
    "basically",
    "in a word",
    "put simply",
    "simply put",
    "by the look of it",
    "by the sound of it",
    "by the looks of it",
    "by the sound of things",
    "from the sound of it",
    "from what you describe",
    "i suspect",
    "i think",
    "i'd say",
    "i would say",
    "i'd guess",
    "i reckon",
    "we think",
)


# Words in the clause just before a bare condition that make it the cause named: "The jaw pain
# on waking is from grinding: bruxism."
_CAUSAL = word_set("from due caused because means mean explains explained sign signs suggests")


def _claiming_end(closing: str) -> bool:
    """Whether ``closing`` (the last words before a bare condition's clause) makes it a
    verdict: "Likely cause: low iron", "is from grinding: bruxism"."""
    words = closing.split()
    return bool(words) and (words[-1] in _CLAIMING_CLAUSE_ENDS or not _CAUSAL.isdisjoint(words[-4:]))


def _claiming_start(opening: str) -> bool:
    """Whether ``opening`` (the first words of the next clause) makes a bare condition just
    before it a verdict: "Vertigo, most likely.", "bruxism, in other words"."""
    first = opening.split(" ", 1)[0]
    return first in _CLAIMING_CLAUSE_STARTS or opening.startswith(_NAMING_PHRASES)


# Condition words that claim only inside a frame ("could be fatal"), never on their own.
_FRAMED_ONLY = frozenset({"terminal", "fatal"})


def _possessive(word: str) -> bool:
    return (word.endswith("'s") or word.endswith("s'")) and word not in _NOT_POSSESSIVES


def _chains(tokens: list[Token], hits: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The conditions among ``hits``, those joined by "and" or "or" taken as one phrase."""
    chains: list[tuple[int, int, int]] = []
    last_end = 0
    for start, end, flags in hits:
        if not flags & CONDITION or start < last_end:
            continue  # "covid" inside "long covid"
        if (tokens[start].lower in _FRAMED_ONLY and end == start + 1) or flags & FRAMED:
            continue  # "a growth", "fatal": claims only inside a frame
        if tokens[start].lower in {"stroke", "strokes"} and end < len(tokens) and tokens[end].lower == "of":
            continue  # "a stroke of luck"
        if chains and start == last_end + 1 and tokens[last_end].lower in {"and", "or", "nor"}:
            first, _, before = chains.pop()
            chains.append((first, end, before | flags))
        else:
            chains.append((start, end, flags))
        last_end = end
    return chains


_TIME_WORDS = word_set(
    "monday tuesday wednesday thursday friday saturday sunday today tonight yesterday now then "
    "later week weekend morning evening night afternoon month"
)
_TIME_PREPOSITIONS = word_set("by on from after before until since during in at last this next")
# Verbs that report a clause: "suggests anxiety is lower", "shows migraine came up".
_SHOWING = word_set("suggests suggest suggested shows show showed means mean indicates indicate that")
# Verbs that open a subject's clause: "anxiety is lower", "migraine came up".
_CLAUSE_VERBS = word_set(
    "is was are were has had tends tended came comes rose rises fell falls dropped drops eased "
    "eases stayed stays appeared appears showed shows went goes returned returns peaked peaks"
)


def _subject(tokens: list[Token], start: int, end: int) -> bool:
    """Whether the noun phrase ``tokens[start:end]`` opens its clause (a subject), or opens a
    clause that a verb of showing reports ("the data suggests anxiety is lower")."""
    unknown = 0
    timed = False
    for index in range(start - 1, -1, -1):
        word = tokens[index].lower
        if word in _SHOWING and unknown == 0 and end < len(tokens) and tokens[end].lower in _CLAUSE_VERBS:
            return True
        if word in _DETERMINERS or _possessive(word):
            continue
        if word in _TIME_WORDS or (timed and word in _TIME_PREPOSITIONS):
            timed = word in _TIME_WORDS  # "by Friday the eczema had settled"
            continue
        if word == "how":  # "how often migraine shows up", but not "are how tumours start"
            return not index or tokens[index - 1].lower not in _COPULAS
        if word in _NOT_IN_A_SUBJECT or word in _SECOND_PERSON:
            return False
        if word in _SUBJECT_LEADS:
            return True
        unknown += 1  # a modifier: "work anxiety", "this week's mild migraine"
        if unknown > 2:
            return False
    return True


def _explained(tokens: list[Token], end: int) -> bool:
    """Whether the words after a subject condition make it the cause of something or the
    verdict: "lupus would explain", "gout is my best guess", "depression often looks like
    this", "endometriosis fits everything you've logged"."""
    after = [t.lower for t in tokens[end : end + 6]]
    if after[:2] in (["going", "round"], ["going", "around"], ["doing", "the"]):
        return False  # "the flu going round the office": what others have
    if any(word in _EXPLAINING for word in after):
        return True
    if after and after[0] in _COPULAS and len(after) > 1 and after[1] in {"likely", "probably"}:
        # "is likely to return", "is likely on Tuesday if ...": a prediction
        return len(after) < 3 or after[2] not in _PREDICTING
    if after and after[0] in _PRESENT_OR_MODAL and not _PROBLEMS.isdisjoint(after[1:]):
        return True  # "an ulcer could be the problem"; "migraine was the problem on Tuesday" reports
    for index, word in enumerate(after[:-1]):
        if word in _LIKENING and after[index + 1] in _THIS_PERSON:
            return True
    # "endometriosis fits everything you've logged", but "anxiety fits around your busy days"
    return bool(after) and after[0] in _FITTING and (len(after) < 2 or after[1] not in _FITTING_AROUND)


_SPEAKER_AUXILIARIES = word_set(
    "would wouldn't could couldn't might may will won't should shouldn't do don't did didn't "
    "not really probably honestly just also still actually"
)


def _spoken(tokens: list[Token], index: int) -> bool:
    """Whether the verb at ``index`` is the report's own ("I'd say", "I wouldn't call")."""
    for back in range(index - 1, max(-1, index - 4), -1):
        word = tokens[back].lower
        if word in _SPEAKERS:
            return True
        if word not in _SPEAKER_AUXILIARIES:
            return False
    return False


def _reported_condition(tokens: list[Token], start: int) -> bool:
    """Whether the condition at ``start`` is what a verb of reporting reports."""
    for index in range(start - 1, -1, -1):
        word = tokens[index].lower
        if word in _HAD and index and tokens[index - 1].lower in {"you", "you've"}:
            word = "logged"  # "you had a migraine on Tuesday"; "you most likely had" is a claim
        if word in _REPORTING and _spoken(tokens, index):
            return False  # "I'd say anxiety disorder", "I wouldn't call these migraines": a verdict
        if word in _REPORTING:
            between = [t.lower for t in tokens[index + 1 : start]]
            for inner in between:
                if inner in _QUESTION_WORDS:
                    return True  # "you asked whether it could be something serious"
                if inner in _REPORT_BREAKS:
                    return False
            return True
    return False


_REPORT_AUXILIARIES = word_set(
    "keep kept have had has 've been often always sometimes also regularly usually first "
    "repeatedly frequently already just still again"
)


def _reported_after(tokens: list[Token], end: int) -> bool:
    """Whether the condition is the object of a report after it: "the slipped disc you
    mention", "the insomnia you logged", "the ulcer your doctor is following"."""
    after = [t.lower for t in tokens[end : end + 5]]
    if after and after[0] in {"that", "which"}:
        after = after[1:]
    if after and after[0] in {"you", "you've", "you'd"}:
        # "the eye strain you keep noting", "the insomnia you've been logging"
        for word in after[1:4]:
            if word in _REPORTING:
                return True
            if word not in _REPORT_AUXILIARIES:
                break
    return len(after) >= 2 and after[0] == "your" and CLINICIAN.fullmatch(after[1]) is not None


def _others(tokens: list[Token], start: int) -> bool:
    """Whether the condition belongs to someone else named before it in the clause."""
    if tokens and tokens[0].lower in {"who", "whose"}:
        return True
    for index, token in enumerate(tokens[1:start], start=1):
        if token.lower in _ANYONE and tokens[index - 1].lower in _IF:
            return True  # "what to do if someone has a seizure"
    for token in reversed(tokens[:start]):
        if token.lower in _SECOND_PERSON:
            return False
        word = token.lower[:-2] if token.lower.endswith(("'s", "s'")) else token.lower
        if word in _OTHERS or token.lower in _OTHERS:
            return True  # "your sister", "your friend's recent diagnosis"
    return False


_ASKING = word_set("asked ask asks wondered wondering question questions")


def not_the_persons(view: Text, match: re.Match[str]) -> bool:
    """Whether a frame's claim is about someone else ("your friend was diagnosed with") or
    inside the person's own question ("you asked whether it could be eczema")."""
    start, _ = view.clause(match.start())
    tokens = view.tokens(start, match.start())
    if _others(tokens, len(tokens)):
        return True
    asked = [i for i, t in enumerate(tokens) if t.lower in _ASKING]
    return bool(asked) and any(t.lower in _QUESTION_WORDS for t in tokens[asked[0] :])


_INSTANCES = word_set("flare flares flare-up flare-ups episode episodes attack attacks")


def _said_to_be(tokens: list[Token], lead: int) -> bool:
    """Whether a present copula comes just before the noun phrase at ``lead`` (allowing two
    describing words): "is a classic", "are an early"."""
    return any(token.lower in {"is", "are", "'s"} for token in tokens[max(0, lead - 3) : lead])


def _owned(view: Text, tokens: list[Token], start: int, end: int, around: tuple[str, str]) -> bool:
    """Whether the condition ``tokens[start:end]`` is the person's own label or word, or
    someone else's, rather than a claim about the person."""
    before = tokens[start - 1].lower if start else ""
    lead = start  # the noun phrase's first word: "with a migraine" is "with" + "migraine"
    while lead and tokens[lead - 1].lower in _DETERMINERS:
        lead -= 1
    word_before = tokens[lead - 1].lower if lead else ""
    if view.quoted(tokens[start].start):
        return True
    if figurative(tokens, start) or denied_any(tokens, start, tokens[:start]):
        return True  # "the deadline nearly gave you a heart attack", "nothing ... anything serious"
    if _referral_topic(view, tokens, start):
        return True  # "your GP can look into the heavy periods": the topic of a referral
    if _located(tokens, end):
        # "the wear-and-tear arthritis in your right knee": placed in the person's body, a
        # claim unless it is reported or someone else's
        return (
            _others(tokens, start)
            or _reported_condition(tokens, start)
            or _possessive(before)
            or _attributed(view, tokens[start].start)
        )
    if _opinion(view, tokens) and not (end < len(tokens) and tokens[end].lower in _CLAUSE_VERBS):
        # "your low moods say depression to me", "my guess is gout": the report's verdict
        return _others(tokens, start) or _attributed(view, tokens[start].start)
    for token in tokens[end : end + 3]:
        if token.lower in _INSTANCES and _said_to_be(tokens, lead):
            break  # "the pain is a classic gout flare": an instance claimed, not a log's word
        if token.lower in _ATTRIBUTIVE:
            return True  # "your asthma entries", "your fibromyalgia pain scores"
        if token.lower in _NOT_IN_A_SUBJECT or token.lower in CLAUSE_STARTS:
            break
    if (
        before in QUANTITIES
        or before in _NUMBERS
        or before.isdigit()
        or before in LOG_WORDS
        or word_before in _TOPIC_PREPOSITIONS
    ):
        return True  # "more migraine", "the week migraine came up", "keeping an eye on anxiety"
    if before == "your" or _possessive(before) or before in {"his", "her", "their"}:
        return True
    if before in _TIME_WORDS:
        return True  # "the afternoon migraine", "Sunday insomnia": an episode in the log
    if word_before in {"with", "for"} and lead >= 2 and tokens[lead - 2].lower in _HELPING:
        return True  # "to help with anxiety"
    if start >= 2 and tokens[start - 2].lower == "your" and before not in _NOT_IN_A_SUBJECT:
        return True  # "your usual migraine"
    if word_before in _OF_LOG and any(
        t.lower in LOG_WORDS or t.lower in _AMOUNTS for t in tokens[max(0, lead - 4) : lead - 1]
    ):
        return True  # "days with migraine", "a week shaped by migraine", "a wave of anxiety"
    if _others(tokens, start) or _reported_after(tokens, end) or _reported_condition(tokens, start):
        return True
    if _named_as_logged(tokens, start):
        return True  # "your most logged symptom is migraine"
    if end == len(tokens) and all(
        t.lower in _DETERMINERS or (i == 0 and t.lower in _HEADING_PREPOSITIONS)
        for i, t in enumerate(tokens[:start])
    ):
        # a label on its own: "A new entry: migraine", "For anxiety, the calmest days were ..."
        return not _claiming_end(around[0]) and not _claiming_start(around[1])
    return end < len(tokens) and _subject(tokens, start, end) and not _explained(tokens, end)


_NAMING = word_set("symptom entry tag label word topic theme category")
# A sentence's attribution to the person's own words: ", you wrote", "as you labelled it",
# "going by your notes".
_ATTRIBUTED = re.compile(
    r"(?:,|\bas) you(?:'ve| have)? (?:wrote|written|noted|mentioned|said|logged|recorded|reported|put it|"
    r"labelled|labeled|called|named|termed|tagged|described|describe|call|put)\b|"
    r"\b(?:according to|going by|judging by) your (?:notes?|entries|entry|logs?|diary|check-ins)\b"
)
_BODY = word_set(
    "knee knees ankle ankles wrist wrists elbow elbows hip hips shoulder shoulders neck back spine "
    "foot feet toe toes hand hands finger fingers thumb thumbs heel heels jaw joints joint chest "
    "heart lungs lung stomach gut bowel bowels belly abdomen tummy head brain temple temples sinuses "
    "sinus throat ear ears eye eyes skin scalp leg legs arm arms thigh calf calves muscle muscles "
    "tendon tendons nerve nerves liver kidney kidneys bladder thyroid pelvis groin rib ribs breast "
    "breasts face mouth gums teeth tooth nose colon blood veins arteries system"
)
_LOCATING = word_set("in of on behind around under")
# Verbs after a placed condition that make it the subject of a report: "migraine in your
# left temple came up twice".
_LOG_VERBS = word_set(
    "came comes showed shows appeared appears eased eases rose rises fell falls dropped drops "
    "returned returns stayed stays peaked peaks settled settles flared flares"
)


# The report giving its own opinion: "to me", "my guess", "I suspect", "if you ask me".
_OPINION = re.compile(
    r"\bto me\b|\bin my (?:view|opinion|book|experience)\b|\bmy (?:guess|bet|money|hunch|read|sense|"
    r"feeling|view|opinion|instinct|gut feeling)\b|\bif you ask me\b|\bi(?:'d| would)? "
    r"(?:think|suspect|reckon|guess|believe|bet|say|call|wager)\b|\bi'm (?:sure|fairly sure|pretty sure|"
    r"guessing|betting|thinking)\b"
)


def _opinion(view: Text, tokens: list[Token]) -> bool:
    """Whether the clause of ``tokens`` gives the report's own opinion."""
    if not tokens:
        return False
    start, end = view.clause(tokens[0].start)
    return _OPINION.search(view.lower, start, end) is not None


# What a clinician is asked to do about a topic: "look into", "check", "talk through".
_REFERRAL_VERBS = re.compile(
    r"\b(?:look (?:into|at|over)|check(?: out)?|examine|assess|investigate|review|help (?:you )?with|"
    r"talk (?:you )?(?:through|about)|discuss|advise (?:you )?on|work out|go over|sort out what)\b"
)


def _referral_topic(view: Text, tokens: list[Token], start: int) -> bool:
    """Whether the condition at ``tokens[start]`` is what a clinician, named before it in the
    clause, is asked to look into."""
    if not start:
        return False
    clause_start = tokens[0].start
    position = tokens[start].start
    clinician = CLINICIAN.search(view.lower, clause_start, position)
    if not clinician:
        return False
    lead = start
    while lead and tokens[lead - 1].lower in _DETERMINERS:
        lead -= 1
    if lead and tokens[lead - 1].lower in {"for", "about"}:
        return True  # "check with your GP before trying anything new for the psoriasis"
    return bool(_REFERRAL_VERBS.search(view.lower, clinician.end(), position))


def _attributed(view: Text, position: int) -> bool:
    """Whether the sentence, after ``position``, says the words are the person's own ("as
    you labelled it")."""
    _, end = view.sentence(position)
    return _ATTRIBUTED.search(view.lower, position, end) is not None


def _located(tokens: list[Token], end: int) -> bool:
    """Whether a condition ending at ``end`` is placed in the person's body ("the arthritis
    in your right knee"), and not as the subject of a report ("... came up twice")."""
    after = [t.lower for t in tokens[end : end + 6]]
    if len(after) < 3 or after[0] not in _LOCATING or after[1] != "your":
        return False
    for index in range(2, min(len(after), 5)):
        if after[index] in _BODY:
            return index + 1 >= len(after) or after[index + 1] not in _LOG_VERBS
    return False


def _named_as_logged(tokens: list[Token], start: int) -> bool:
    """Whether a copula before ``start`` has a log's ranking for its subject ("your most
    logged symptom is", "the top entry was"): it names what was logged, not a diagnosis."""
    for index in range(start - 1, -1, -1):
        if tokens[index].lower in _COPULAS:
            subject = {t.lower for t in tokens[:index]}
            return bool(subject & _NAMING and subject & NOT_A_DIAGNOSIS_SUBJECT)
    return False


_LINKING = word_set(
    "be been seem seems seemed sound sounds sounded look looks looked appear appears appeared"
)


def _predicated(tokens: list[Token], start: int) -> bool:
    """Whether the word at ``start`` is said of its subject: "your ankle is sprained"."""
    for token in reversed(tokens[:start]):
        word = token.lower
        if word in _COPULAS or word in _LINKING:
            return True  # "is sprained", "sounds neuropathic"
        if word not in _DEGREES:
            return False
    return False


_DEGREES = word_set(
    "probably likely clearly definitely certainly just slightly a bit little mildly badly quite "
    "very really actually now already also in all probability likelihood no doubt without fact "
    "frankly honestly surely"
)


def _claimed_condition(
    view: Text, tokens: list[Token], hits: list[tuple[int, int, int]], around: tuple[str, str]
) -> Finding | None:
    """A condition or condition word in the clause ``tokens`` that is not the person's own
    label, or ``None``; ``around`` holds the last word of the clause before and the first
    word of the clause after."""
    for first, last, flags in _chains(tokens, hits):
        if not _owned(view, tokens, first, last, around):
            return Finding("alarm" if flags & SERIOUS else "diagnosis", "named_condition")
    for first, _, flags in hits:
        if not flags & ADJECTIVE or not _predicated(tokens, first) or view.quoted(tokens[first].start):
            continue
        if not _reported_condition(tokens, first) and not _others(tokens, first):
            return Finding("diagnosis", "condition_adjective")
    return None


# -- a medicine, and whether it is advice ------------------------------------------------------

# Past tenses after "your <medicine>" that report what happened: "your inhaler was with you".
_PAST = word_set("was were had did stayed ran helped went came")
# Verbs after a medicine that say it was in the log: "ibuprofen came up twice".
_MODAL_WORDS = word_set("could might may should must can would will need ought")
_LOGGED_VERBS = word_set("came appeared appears showed featured logged mentioned noted")
# Steps that keep a record of a medicine, not take it: "noting when you take painkillers".
_LOGGING = word_set("track tracking note noting log logging record recording list diary journal")
# A sentence's attribution to the person's own words: ", you wrote", "going by your notes".
# Words in a sentence that steer a referral toward a drug or a change: "ask your doctor about
# increasing", "your doctor could put you on".
_STEERING = re.compile(
    r"(?<!who )(?<!that )\bprescrib(?:e|es|ing)\b|\b(?:put|start|get|starting|putting) you on\b|"
    r"\bswitch(?:ing)?\b|\bswap(?:ping)?\b|\bincreas(?:e|ing)\b|\bup(?:ping)? (?:your|the)\b|"
    r"\b(?:lower|lowering|reduce|reducing|double|doubling|halve|halving|cut|cutting|change|changing|"
    r"adjust|adjusting|stop|stopping) (?:your|the|to|it|them|taking)\b|\b(?:raise|raising) (?:your|the) dose\b|"
    r"\b(?:come|coming|go|going) (?:off|back to)\b|\bask(?:ing)? (?:\w+ )?for\b|"
    r"\b(?:try|trying|start|starting|begin|beginning) (?:a|an|on|taking|some)\b|"
    r"\b(?:sell|give|get|offer) you\b|\b(?:recommend|suggest) (?:a|an|some)\b"
)


# Words before a change that make it a thing to defer, not to do: "any change", "before
# changing your Lexapro", "without stopping".
_DEFERRING = word_set("any no before without prior")


def _steered(view: Text, start: int, end: int) -> bool:
    """Whether the sentence between ``start`` and ``end`` steers toward a drug or a change."""
    for found in _STEERING.finditer(view.lower, start, end):
        before = view.tokens(max(start, found.start() - 40), found.start())[-3:]
        if not any(t.lower in NEGATORS or t.lower in _DEFERRING for t in before):
            return True  # but "any change to your medication is a decision for your prescriber"
    return False


# The person's record as the subject of a report: "your notes mention", "Tuesday's entry says".
_RECORD_SAYS = re.compile(
    r"\b(?:your|the|\w+'s)(?: \w+)? (?:notes?|entries|entry|logs?|diary|journal|check-ins?|records?) "
    r"(?:mention|mentions|mentioned|say|says|said|show|shows|showed|record|records|recorded|list|lists|"
    r"listed|note|notes|noted|include|includes|included)\b"
)


_THIS_REPORT = re.compile(r"\b(?:this|these) (?:report|summary|findings|insights?|analysis|patterns?)\b")


_OWNING = word_set("your the that this those these")
# An instruction about a medicine named earlier: "..., so keep them", "stick with it".
_PRONOUN_INSTRUCTION = re.compile(
    r"\b(?:keep|stop|take|start|continue|use|try|double|halve|increase|reduce|skip|stick with|stay on|"
    r"come off|drop|cut|swap|switch|restart|resume)\s+(?:them|it|those|these|taking|using|with them|with it)\b"
)
_NOT_REPORTING = word_set("could might may should would will can must need needs ought")


def _past_subject(tokens: list[Token], first: int, last: int) -> bool:
    """Whether the medicine ``tokens[first:last]`` is the person's own ("your", "the") and the
    subject of a clause in the past tense with no modal: a report of what happened."""
    lead = [t.lower for t in tokens[max(0, first - 3) : first]]
    if _OWNING.isdisjoint(lead):
        return False
    after = [t.lower for t in tokens[last : last + 4]]
    if not after or not _NOT_REPORTING.isdisjoint(t.lower for t in tokens):
        return False
    if after[0] in {"also", "only", "then", "still", "just"}:
        after = after[1:]
    verb = after[0] if after else ""
    return verb in _PAST or (len(verb) > 4 and verb.endswith("ed"))


def _medicine_owned(view: Text, tokens: list[Token], first: int, last: int) -> bool:
    """Whether the medicine ``tokens[first:last]``, named outside any frame, is the person's
    own use, a referral or a statement of what is not advised."""
    medicine = tokens[first]
    before = [t.lower for t in tokens[:first]]
    if any(t.lower in _LOGGED_VERBS for t in tokens[last : last + 3]):
        return True  # "ibuprofen came up in your notes twice"
    for index in range(last, min(last + 2, len(tokens) - 1)):
        if tokens[index].lower == "you" and tokens[index + 1].lower not in _MODAL_WORDS:
            return True  # "the EpiPen you carry", "the vitamin d supplement you take": their own
        if tokens[index].lower == "your" and _others(tokens, index + 2):
            return True  # "the arnica gel your friend recommended": someone else's word
    if last < len(tokens) and tokens[last].lower in _PAST and first and tokens[first - 1].lower == "your":
        return True  # "your inhaler was with you on every run"
    if _past_subject(tokens, first, last) and not _PRONOUN_INSTRUCTION.search(
        view.lower, medicine.start, view.sentence(medicine.start)[1]
    ):
        return True  # "your preventer inhaler was used every morning", "the antacid helped"
    if reports_use(before) or any(word in REPORTED_USE or word in _LOGGING for word in before):
        return True  # "you noted taking ibuprofen", "noting when you take painkillers"
    start, end = view.sentence(medicine.start)
    if _RECORD_SAYS.search(view.lower, view.clause(medicine.start)[0], medicine.start):
        return True  # "your notes mention taking ibuprofen on Wednesday"
    if _ATTRIBUTED.search(view.lower, medicine.start, end) or REPORTING_TAIL.search(
        view.lower, medicine.start, end
    ):
        return True  # "your vitamin d tablet is part of your morning routine, you wrote"
    referred = bool(CLINICIAN.search(view.lower, start, end))
    negated = [i for i, word in enumerate(before) if word in NEGATORS]
    if negated and not _SPEAKERS.union({"report"}).isdisjoint(before[: negated[0]]):
        return True  # "this report never advises on medicines"
    # "this report doesn't recommend any medicines"; "don't change any medicine based on
    # this report": not advice about a drug, when said of the report or the doctor
    if negated and _THIS_REPORT.search(view.lower, start, end):
        return True  # "please don't change your doses on the strength of this report"
    if (
        negated
        and not {"any", "anything"}.isdisjoint(before[negated[0] :])
        and (negated[0] > 0 or referred or "report" in view.lower[start:end])
    ):
        return True
    if not referred or _steered(view, start, end):
        return False
    clinician = CLINICIAN.search(view.lower, start, medicine.start)
    if clinician and toward_the_drug(view.lower, clinician.end(), medicine.start):
        return False  # "worth asking the pharmacist for a stronger version of your tablets"
    if clinician:
        lead = [t.lower for t in view.tokens(clinician.end(), medicine.start)]
        return not offered(view, medicine.start, lead, asked=True)
    return not offered(view, medicine.start, before)


def _advised_medicine(view: Text, tokens: list[Token], hits: list[tuple[int, int, int]]) -> Finding | None:
    """A medicine in the clause ``tokens`` named as something to take, outside a report of
    the person's own use or a referral, or ``None``."""
    for first, last, flags in hits:
        if flags & MEDICINE and taken(tokens, first, last) and not _medicine_owned(view, tokens, first, last):
            return Finding("medication", "named_medicine")
    return None


def by_default(view: Text, vocabulary: Vocabulary, wanted: int) -> Finding | None:
    """The default's finding for the whole text: conditions first, then medicines."""
    words = view.words()

    def cased(i: int) -> str:
        start = view.word_starts()[i]
        return view.cased[start : start + len(words[i])]

    # Most texts that reach the default name nothing it wants once read in context. A scan
    # that ignores clause ends finds a hit at every word where the scan within clauses does
    # (cut at a clause end, a phrase leaves its first word's own flags; uncut, the same word
    # or a longer wanted phrase), so without a hit there, the clauses are never worked out.
    if not scan(words, cased, vocabulary, wanted, None):
        return None
    ranges = view.clause_ranges()
    ends = [last for first, last in ranges for _ in range(first, last)]
    hits = scan(words, cased, vocabulary, wanted, ends)
    if not hits:
        return None
    clauses = []
    index = 0
    for first, last in ranges:
        mine = []
        while index < len(hits) and hits[index][0] < last:
            start, end, flags = hits[index]
            mine.append((start - first, end - first, flags))
            index += 1
        if mine:
            # the clause before (to its end) and the first words of the clause after
            before_clause = " ".join(words[max(0, first - 6) : first])
            around = (before_clause, " ".join(words[last : last + 3]))
            clauses.append((view.span(first, last), mine, around))
    for tokens, mine, around in clauses:
        finding = _claimed_condition(view, tokens, mine, around)
        if finding is not None:
            return finding
    for tokens, mine, _ in clauses:
        finding = _advised_medicine(view, tokens, mine)
        if finding is not None:
            return finding
    return None
